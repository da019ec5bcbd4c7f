import type { OrgScope } from '../admin/changed-by.js';
import type { Clock } from '../lib/clock.js';
import { badRequest, notFound } from '../lib/errors.js';
import type { FactorDescriptor } from '../policy/types.js';
import type { AnalyticsRange, AnalyticsRepository, EventCount, KindSets } from '../store/repositories/analytics.repository.js';
import type { MfaAnalyticsQuery } from './analytics.schema.js';
import { bucketsOf, DAY_MS, isoDay } from './buckets.js';
import { ANALYTICS_EVENT_TYPES, EVENTS } from './event-map.js';

/** The longest range one request may aggregate: a year, leap day included. */
export const MAX_RANGE_DAYS = 366;
/** The range asked for when none is given: the last 30 days, today included. */
const DEFAULT_RANGE_DAYS = 30;

export interface AnalyticsServiceDeps {
  repo: AnalyticsRepository;
  /** The registered MFA methods (their credential kinds, second-factor and phishing-resistance). */
  descriptors: readonly FactorDescriptor[];
  clock: Clock;
}

const kindOf = (d: FactorDescriptor) => d.credentialKind ?? d.method;

/** Per-bucket sums of event counts, as arrays aligned with `buckets`. */
function tally(buckets: readonly string[]) {
  const index = new Map(buckets.map((b, i) => [b, i]));
  const zeros = () => buckets.map(() => 0);
  type Name = (row: EventCount) => string | null | undefined;
  /** Grouped by `groupOf`, then `nameOf`; every group listed has every name listed, zeros where nothing happened. */
  const grouped = (rows: readonly EventCount[], groups: readonly string[], names: readonly string[], groupOf: Name, nameOf: Name) => {
    const out: Record<string, Record<string, number[]>> = {};
    const ensure = (group: string) => (out[group] ??= Object.fromEntries(names.map((n) => [n, zeros()])));
    groups.forEach(ensure);
    for (const row of rows) {
      const group = groupOf(row);
      const name = nameOf(row);
      const i = index.get(isoDay(row.bucket));
      if (!group || !name || i === undefined) continue;
      (ensure(group)[name] ??= zeros())[i]! += row.count;
    }
    return out;
  };
  return {
    zeros,
    grouped,
    /** One group's names. */
    flat: (rows: readonly EventCount[], names: readonly string[], nameOf: Name) => grouped(rows, ['all'], names, () => 'all', nameOf).all!,
  };
}

/**
 * The MFA adoption analytics: counts per calendar bucket (UTC) read from the audit trail, and the
 * second-factor coverage of the accounts that signed in, read from the credentials.
 */
export function createAnalyticsService(deps: AnalyticsServiceDeps) {
  const { repo, descriptors } = deps;
  const factors = descriptors.filter((d) => d.secondFactor);
  const kinds: KindSets = {
    // Recovery methods (backup codes, security questions) stand in for a factor and do not make an account covered.
    secondFactor: [...new Set(factors.filter((d) => !d.recovery).map(kindOf))],
    phishingResistant: [...new Set(factors.filter((d) => d.phishingResistant).map(kindOf))],
  };

  /** The range asked, whole UTC days with both ends included, as `[from, to)`. */
  function rangeOf(q: MfaAnalyticsQuery): { from: Date; to: Date } {
    const today = Math.floor(deps.clock.now() / DAY_MS) * DAY_MS;
    const to = q.to !== undefined ? Date.parse(q.to) + DAY_MS : today + DAY_MS;
    const from = q.from !== undefined ? Date.parse(q.from) : to - DEFAULT_RANGE_DAYS * DAY_MS;
    if (to <= from) throw badRequest('to: must not be before from');
    if (to - from > MAX_RANGE_DAYS * DAY_MS) throw badRequest(`to: the range must not exceed ${MAX_RANGE_DAYS} days`);
    return { from: new Date(from), to: new Date(to) };
  }

  /** An organisation's key reads its own organisation, named or not; any other is answered as absent. */
  async function organizationOf(q: MfaAnalyticsQuery, scope: OrgScope): Promise<string | null> {
    if (scope.organizationId !== null) {
      if (q.organization !== undefined && q.organization !== scope.organizationId) throw notFound('no such organization');
      return scope.organizationId;
    }
    if (q.organization === undefined) return null;
    if (!(await repo.organizationExists(q.organization))) throw notFound('no such organization');
    return q.organization;
  }

  return {
    async mfa(q: MfaAnalyticsQuery, scope: OrgScope) {
      const { from, to } = rangeOf(q);
      const range: AnalyticsRange = { from, to, unit: q.interval, organizationId: await organizationOf(q, scope) };
      const [events, riskLogins, perBucket, [whole], holders] = await Promise.all([
        repo.eventCounts(range, ANALYTICS_EVENT_TYPES, EVENTS.reset),
        repo.riskLoginCounts(range),
        repo.coverage(range, kinds, true),
        repo.coverage(range, kinds, false),
        repo.kindHolders(range),
      ]);
      const buckets = bucketsOf(from, to, q.interval);
      const t = tally(buckets);
      const of = (...types: string[]) => events.filter((e) => types.includes(e.type));
      const methods = factors.map((d) => d.method);
      const coverage = { active_users: t.zeros(), with_second_factor: t.zeros(), with_phishing_resistant: t.zeros() };
      for (const c of perBucket) {
        const i = c.bucket ? buckets.indexOf(isoDay(c.bucket)) : -1;
        if (i < 0) continue;
        coverage.active_users[i] = c.active;
        coverage.with_second_factor[i] = c.withSecondFactor;
        coverage.with_phishing_resistant[i] = c.withPhishingResistant;
      }
      const usersOfKind = new Map(holders.map((h) => [h.kind, h.users]));
      return {
        organization_id: range.organizationId,
        from: isoDay(from),
        to: isoDay(new Date(to.getTime() - DAY_MS)),
        interval: q.interval,
        buckets,
        methods,
        enrolments: t.grouped(
          of(EVENTS.enrolled, EVENTS.removed, EVENTS.reset),
          methods,
          ['enrolled', 'removed'],
          (row) => row.key,
          (row) => (row.type === EVENTS.enrolled ? 'enrolled' : 'removed'),
        ),
        challenges: t.grouped(
          of(EVENTS.verified, EVENTS.failed),
          methods,
          ['succeeded', 'failed'],
          (row) => row.key,
          (row) => (row.type === EVENTS.verified ? 'succeeded' : 'failed'),
        ),
        step_ups: t.flat(of(EVENTS.stepUp), ['completed'], () => 'completed').completed!,
        lockouts: t.flat(of(EVENTS.passwordLocked, EVENTS.mfaLocked), ['password', 'mfa'], (row) => (row.type === EVENTS.passwordLocked ? 'password' : 'mfa')),
        risk: {
          sentinel: t.flat(of(EVENTS.sentinel), ['allow', 'challenge', 'deny'], (row) => row.key),
          sign_in: t.flat(riskLogins, ['challenge', 'deny'], (row) => row.key),
        },
        coverage: {
          ...coverage,
          range: {
            active_users: whole?.active ?? 0,
            with_second_factor: whole?.withSecondFactor ?? 0,
            with_phishing_resistant: whole?.withPhishingResistant ?? 0,
            by_method: Object.fromEntries(factors.map((d) => [d.method, usersOfKind.get(kindOf(d)) ?? 0])),
          },
        },
      };
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
