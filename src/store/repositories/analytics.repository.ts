import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db.js';

/** Calendar buckets, in UTC: a day, an ISO week (from Monday), a month. */
export type BucketUnit = 'day' | 'week' | 'month';

/** What one analytics read covers: `[from, to)`, and one organisation or (null) every one. */
export interface AnalyticsRange {
  from: Date;
  to: Date;
  unit: BucketUnit;
  organizationId: string | null;
}

/** How many events of a type, outcome and key (the method, or the risk recommendation) fell in a bucket. */
export interface EventCount {
  bucket: Date;
  type: string;
  outcome: string;
  key: string | null;
  count: number;
}

/** Of the accounts that signed in (in a bucket, or over the whole range), how many held a second factor, a phishing-resistant one, each kind. */
export interface Coverage {
  /** Null for the whole range. */
  bucket: Date | null;
  active: number;
  withSecondFactor: number;
  withPhishingResistant: number;
}

/** Credential kinds of the signed-in accounts, for the per-method share (over the whole range). */
export interface KindHolders {
  kind: string;
  users: number;
}

/** The credential kinds that count as a second factor, and those that are phishing-resistant. */
export interface KindSets {
  secondFactor: readonly string[];
  phishingResistant: readonly string[];
}

// Adaptive sign-in risk verdicts are recorded inside login events that carry no organisation (the account's organisation is read from `users`).
const RISK_LOGIN_TYPES = ['authn.login.denied', 'authn.mfa.challenged'];

const bucketOf = (unit: BucketUnit) => sql`date_trunc(${unit}, e.at, 'UTC')`;
const inRange = (r: AnalyticsRange) => sql`e.at >= ${r.from} and e.at < ${r.to}`;
const inOrganization = (r: AnalyticsRange) => (r.organizationId === null ? sql`true` : sql`e.organization_id = ${r.organizationId}`);

/**
 * The statements behind the MFA adoption analytics, each one aggregate over the audit trail
 * (indexed on type, time and organisation by migration 0029) or the credentials. Exposed as
 * builders so a benchmark can EXPLAIN exactly what the API runs.
 */
export function analyticsQueries() {
  return {
    /**
     * Events of `types` per bucket, type, outcome and key: `data.method`, or `data.recommendation`;
     * an administrator's reset (`resetType`) counts once for each method of its `data.removed`.
     */
    eventCounts(r: AnalyticsRange, types: readonly string[], resetType: string): RawBuilder<EventCount> {
      return sql<EventCount>`select ${bucketOf(r.unit)} as bucket, e.type, e.outcome, e.key, count(*)::int as count
        from (
          select e.at, e.type, e.outcome, coalesce(e.data->>'method', e.data->>'recommendation') as key
          from audit_events e
          where e.type = any(${types}::text[]) and e.type <> ${resetType} and ${inRange(r)} and ${inOrganization(r)}
          union all
          select e.at, e.type, e.outcome, k.key
          from audit_events e cross join jsonb_array_elements_text(e.data->'removed') as k(key)
          where e.type = ${resetType} and jsonb_typeof(e.data->'removed') = 'array' and ${inRange(r)} and ${inOrganization(r)}
        ) e
        group by 1, 2, 3, 4`;
    },

    /** Adaptive risk verdicts of sign-ins: a denial (`risk_denied`) or a second factor asked for (`risk_challenge`), per bucket. */
    riskLoginCounts(r: AnalyticsRange): RawBuilder<EventCount> {
      const org = r.organizationId === null ? sql`true` : sql`u.organization_id = ${r.organizationId}`;
      return sql<EventCount>`select ${bucketOf(r.unit)} as bucket, e.type, e.outcome,
          case when e.data->'reasons' @> '["risk_denied"]' then 'deny' else 'challenge' end as key, count(*)::int as count
        from audit_events e
        ${r.organizationId === null ? sql`` : sql`join users u on u.id::text = e.subject`}
        where e.organization_id is null and e.type = any(${RISK_LOGIN_TYPES}::text[]) and ${inRange(r)}
          and (e.data->'reasons' @> '["risk_denied"]' or e.data->'reasons' @> '["risk_challenge"]') and ${org}
        group by 1, 2, 3, 4`;
    },

    /**
     * Accounts that signed in (`authn.login.succeeded`) per bucket (`perBucket`) or over the whole
     * range, and of them those holding, at the bucket's end, a credential of a second-factor kind
     * and of a phishing-resistant kind. The credentials tables keep no history (a removed
     * credential's row is deleted), so "held" means held now and confirmed before the bucket ended.
     */
    coverage(r: AnalyticsRange, kinds: KindSets, perBucket: boolean): RawBuilder<Coverage> {
      const bucket = perBucket ? bucketOf(r.unit) : sql`null::timestamptz`;
      const end = perBucket ? sql`least(s.bucket + ${`1 ${r.unit}`}::interval, ${r.to})` : sql`${r.to}::timestamptz`;
      return sql<Coverage>`with signed_in as (
          select distinct ${bucket} as bucket, e.subject
          from audit_events e
          where e.type = 'authn.login.succeeded' and e.subject is not null and ${inRange(r)} and ${inOrganization(r)}
        ), held as (
          select c.user_id::text as subject,
            min(c.confirmed_at) filter (where c.kind = any(${kinds.secondFactor}::text[])) as second_since,
            min(c.confirmed_at) filter (where c.kind = any(${kinds.phishingResistant}::text[])) as phish_since
          from credentials c
          where c.confirmed_at is not null and c.used_at is null and c.user_id::text in (select subject from signed_in)
          group by c.user_id
        )
        select s.bucket, count(*)::int as active,
          (count(*) filter (where h.second_since < ${end}))::int as "withSecondFactor",
          (count(*) filter (where h.phish_since < ${end}))::int as "withPhishingResistant"
        from signed_in s left join held h on h.subject = s.subject
        group by s.bucket`;
    },

    /** Of the accounts that signed in over the range, how many hold (now, confirmed before the range's end) a credential of each kind. */
    kindHolders(r: AnalyticsRange): RawBuilder<KindHolders> {
      return sql<KindHolders>`select c.kind, count(distinct c.user_id)::int as users
        from credentials c
        where c.confirmed_at is not null and c.used_at is null and c.confirmed_at < ${r.to}
          and c.user_id::text in (
            select e.subject from audit_events e
            where e.type = 'authn.login.succeeded' and e.subject is not null and ${inRange(r)} and ${inOrganization(r)})
        group by c.kind`;
    },
  };
}

export function createAnalyticsRepository(db: Db) {
  const q = analyticsQueries();
  const rows = async <T>(query: RawBuilder<T>): Promise<T[]> => (await query.execute(db)).rows;
  return {
    eventCounts: (r: AnalyticsRange, types: readonly string[], resetType: string) => rows(q.eventCounts(r, types, resetType)),
    riskLoginCounts: (r: AnalyticsRange) => rows(q.riskLoginCounts(r)),
    coverage: (r: AnalyticsRange, kinds: KindSets, perBucket: boolean) => rows(q.coverage(r, kinds, perBucket)),
    kindHolders: (r: AnalyticsRange) => rows(q.kindHolders(r)),
    async organizationExists(id: string): Promise<boolean> {
      return (await db.selectFrom('organizations').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    },
  };
}

export type AnalyticsRepository = ReturnType<typeof createAnalyticsRepository>;
