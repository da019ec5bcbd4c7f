import { sql, type RawBuilder } from 'kysely';
import { PREPARED, type Db } from '../db.js';
import {
  AUTHN_REF,
  GRANT_BOUND_MODELS,
  GRANT_REF,
  linksOf,
  type Linked,
  type OidcPayload,
  type OidcPayloadStore,
  type PayloadLinks,
} from '../ephemeral-store.js';
import { UUID, type AccountView } from '../repositories/account.repository.js';

type Row = { payload: OidcPayload; consumedAt: Date | null };
type LinkedRow = Row & { session: OidcPayload | null; grant: OidcPayload | null; stepUp: boolean | null } & {
  [K in keyof AccountView as `account${Capitalize<K>}`]: AccountView[K] | null;
};

/*
 * Every token request runs several of these, so they are written as parameterised `sql`
 * templates: the query builder and its plugins cost more CPU than the round trip itself here.
 * Those on every refresh are also prepared once per connection.
 */
const str = (v: unknown) => (typeof v === 'string' ? v : null);

const LIVE = sql`(expires_at is null or expires_at > now())`;

function shape(row?: Row): OidcPayload | undefined {
  if (!row) return undefined;
  return row.consumedAt ? { ...row.payload, consumed: Math.floor(new Date(row.consumedAt).getTime() / 1000) } : row.payload;
}

const INSERT = sql`insert into oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)`;
const ON_CONFLICT = sql`on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
  user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = null`;
/** The columns `INSERT` names, typed, so they serve a `values` list and a `select` alike. */
function entryRow(model: string, id: string, payload: OidcPayload, expiresIn: number | undefined) {
  const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
  return sql`${model}::text, ${id}::text, ${JSON.stringify(payload)}::jsonb, ${GRANT_BOUND_MODELS.has(model) ? str(payload.grantId) : null}::text,
    ${str(payload.uid)}::text, ${str(payload.userCode)}::text, ${expiresAt}::timestamptz, null::timestamptz`;
}

/**
 * `source`: one row naming the links (from the entry itself, or given). Sessions and grants are
 * never consumed, so only their payload counts. The account id and auth time are cast only when
 * they have the right shape (case expressions, so the cast is never tried on anything else).
 */
const linkedQuery = (
  source: RawBuilder<unknown>,
) => sql<LinkedRow>`select e.payload, e.consumed_at as "consumedAt", s.payload as "session", g.payload as "grant",
    u.id as "accountId", u.status as "accountStatus", u.username as "accountUsername", u.email as "accountEmail",
    u.email_verified as "accountEmailVerified", u.phone as "accountPhone", u.phone_verified as "accountPhoneVerified",
    u.updated_at as "accountUpdatedAt", u.organization_id as "accountOrganizationId", a.step_up as "stepUp"
  from ${source} e
  left join lateral (select payload from oidc_payloads where model = 'Session' and uid = e.session_uid and ${LIVE} limit 1) s on true
  left join lateral (select payload from oidc_payloads where model = 'Grant' and id = e.grant_ref and ${LIVE} limit 1) g on true
  left join users u on u.id = case when e.account_id ~* ${UUID.source} then e.account_id::uuid end
  left join authn_states a on a.account_id = u.id and a.auth_time = case when e.auth_time ~ '^[0-9]{1,15}$' then e.auth_time::bigint end
    and a.amr = e.amr and a.expires_at > now()
  limit 1 ${PREPARED}`;

/** Of a `linkedQuery` row, what `links` named. */
function linkedTo(links: PayloadLinks, row: LinkedRow): Linked {
  const account: AccountView | null =
    row.accountId === null
      ? null
      : {
          id: row.accountId,
          status: row.accountStatus!,
          username: row.accountUsername,
          email: row.accountEmail,
          emailVerified: row.accountEmailVerified!,
          phone: row.accountPhone,
          phoneVerified: row.accountPhoneVerified!,
          updatedAt: new Date(row.accountUpdatedAt!),
          organizationId: row.accountOrganizationId!,
        };
  return {
    ...(links.sessionUid !== undefined ? { session: row.session } : {}),
    ...(links.grantRef !== undefined ? { grant: row.grant } : {}),
    ...(links.accountId !== undefined ? { account } : {}),
    ...(links.authn !== undefined ? { stepUp: row.stepUp } : {}),
  };
}

export function createSqlOidcStore(kysely: Db): OidcPayloadStore {
  // Every statement here names its result columns as wanted: the case-mapping plugin's pass over each row would only cost CPU.
  const db = kysely.withoutPlugins();
  const linked = async (source: RawBuilder<unknown>) => (await linkedQuery(source).execute(db)).rows[0];
  const one = async (where: ReturnType<typeof sql>) =>
    shape((await sql<Row>`select payload, consumed_at as "consumedAt" from oidc_payloads where ${where} and ${LIVE} limit 1 ${PREPARED}`.execute(db)).rows[0]);

  return {
    async upsert(model, id, payload, expiresIn) {
      await sql`${INSERT} values (${entryRow(model, id, payload, expiresIn)}) ${ON_CONFLICT} ${PREPARED}`.execute(db);
    },
    /* The successor is inserted only when the update consumed the token: a reuse inserts nothing. */
    async consumeAndUpsert(model, consumedId, id, payload, expiresIn) {
      const res = await sql`with consumed as (update oidc_payloads set consumed_at = now()
          where model = ${model} and id = ${consumedId} and consumed_at is null and ${LIVE} returning id)
        ${INSERT} select ${entryRow(model, id, payload, expiresIn)} from consumed ${ON_CONFLICT} returning id ${PREPARED}`.execute(db);
      return res.rows.length === 1;
    },
    find: (model, id) => one(sql`model = ${model} and id = ${id}`),
    findByUid: (model, uid) => one(sql`model = ${model} and uid = ${uid}`),
    findByUserCode: (model, code) => one(sql`model = ${model} and user_code = ${code}`),
    /*
     * A refresh or code exchange names its Session, Grant, account and authentication record,
     * which the engine reads right after the token: one round trip instead of five.
     */
    async findLinked(model, id) {
      const row = await linked(sql`(select payload, consumed_at, payload->>'sessionUid' as session_uid, payload->>${GRANT_REF} as grant_ref,
          payload->>'accountId' as account_id, payload->>'authTime' as auth_time, payload->>${AUTHN_REF} as amr
        from oidc_payloads where model = ${model} and id = ${id} and ${LIVE} limit 1)`);
      const entry = shape(row);
      return entry ? { entry, ...linkedTo(linksOf(entry), row!) } : { entry };
    },
    async findLinks(links) {
      const row = await linked(sql`(select null::jsonb as payload, null::timestamptz as consumed_at, ${links.sessionUid ?? null}::text as session_uid,
          ${links.grantRef ?? null}::text as grant_ref, ${links.accountId ?? null}::text as account_id,
          ${links.authn?.authTime.toString() ?? null}::text as auth_time, ${links.authn?.amr ?? null}::text as amr)`);
      return linkedTo(links, row!);
    },
    async consume(model, id) {
      const res = await sql`update oidc_payloads set consumed_at = now()
        where model = ${model} and id = ${id} and consumed_at is null and ${LIVE} returning id ${PREPARED}`.execute(db);
      return res.rows.length === 1;
    },
    async unconsume(model, id) {
      await sql`update oidc_payloads set consumed_at = null where model = ${model} and id = ${id}`.execute(db);
    },
    async destroy(model, id) {
      await sql`delete from oidc_payloads where model = ${model} and id = ${id}`.execute(db);
    },
    async revokeByGrantId(grantId) {
      await sql`delete from oidc_payloads where grant_id = ${grantId}`.execute(db);
    },
  };
}
