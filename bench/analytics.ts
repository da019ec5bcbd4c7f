/**
 * The MFA adoption analytics at one million audit rows: the time of each statement the API runs
 * (`analyticsQueries`, median of 5 runs after one warm-up) for one organisation and for every
 * organisation, over 30 days by day and 365 days by month, with
 *   - no index of its own (the trail's indexes as they were before migration 0029),
 *   - the index with the organisation leading, (organization_id, type, at) including subject,
 *   - migration 0029's index, (type, at, organization_id) including subject,
 *   - daily rolled-up tables (counts per day, organisation, type, outcome and key; distinct
 *     signed-in accounts per day), which a trigger would have to keep in every audit append.
 * It prints the EXPLAIN ANALYZE plan of the event aggregate under each index.
 *   npm run bench -- --only analytics      or      npx tsx bench/analytics.ts [--rows 1000000] [--keep]
 * (--keep leaves the schema in place, to look at plans by hand).
 *
 * The rows are seeded with triggers off (session_replication_role = replica): the hash chain does
 * not matter to a read plan, and a million chained appends would take minutes. The schema is
 * dropped at the end.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { RawBuilder } from 'kysely';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../src/store/db.js';
import { analyticsQueries, type AnalyticsRange, type KindSets } from '../src/store/repositories/analytics.repository.js';
import { ANALYTICS_EVENT_TYPES, EVENTS } from '../src/analytics/event-map.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const USERS = 20_000;
const ORGS = 10;
const RUNS = 5;
const DAY_MS = 86_400_000;
const MIGRATION_INDEX = 'create index audit_events_type_at_organization on audit_events (type, at, organization_id) include (subject)';
const KINDS: KindSets = { secondFactor: ['totp', 'passkey', 'phone', 'email', 'prompt', 'questions'], phishingResistant: ['passkey'] };

// The seeded mix of event types (weights), close to a trail where most rows are sign-ins.
const MIX: [type: string, weight: number, outcome: 'success' | 'failure', data: string][] = [
  ['authn.login.succeeded', 40, 'success', `'{"amr":["pwd","otp"]}'`],
  ['authn.login.failed', 10, 'failure', `'{"reason":"wrong_password"}'`],
  [
    'authn.mfa.challenged',
    10,
    'success',
    `jsonb_build_object('methods', '["totp"]'::jsonb, 'reasons', case when i % 10 = 0 then '["risk_challenge"]'::jsonb else '["policy"]'::jsonb end)`,
  ],
  ['authn.mfa.verified', 18, 'success', `jsonb_build_object('method', (array['totp','passkey','sms','email'])[1 + i % 4])`],
  ['authn.mfa.failed', 3, 'failure', `jsonb_build_object('method', (array['totp','passkey','sms','email'])[1 + i % 4])`],
  ['authn.factor.enrolled', 1, 'success', `jsonb_build_object('method', (array['totp','passkey','sms','email'])[1 + i % 4])`],
  ['authn.factor.removed', 0.3, 'success', `jsonb_build_object('method', (array['totp','passkey','sms','email'])[1 + i % 4])`],
  ['authn.step_up.completed', 2, 'success', `'{"acr":"aal2"}'`],
  ['authn.account.locked', 0.5, 'success', `'{"failures":5}'`],
  ['authn.mfa.locked', 0.2, 'success', `'{}'`],
  ['authn.login.denied', 0.5, 'failure', `jsonb_build_object('reasons', case when i % 2 = 0 then '["risk_denied"]'::jsonb else '["rule"]'::jsonb end)`],
  ['risk.sentinel.assessed', 3, 'success', `jsonb_build_object('recommendation', (array['allow','challenge','deny'])[1 + i % 3])`],
  ['admin.user.updated', 5, 'success', `'{}'`],
  ['authn.otp.sent', 6.5, 'success', `'{"channel":"sms"}'`],
];

/** Seeds `rows` audit rows in a schema of its own, measures each variant, and drops the schema (unless `keep`). */
export async function runAnalyticsBench({ rows: ROWS, keep = false }: { rows: number; keep?: boolean }): Promise<void> {
  const schema = `bench_analytics_${process.pid}`;
  const handle = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema });
  const admin = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
  await admin.connect();
  try {
    await migrateToLatest(handle.db, schema);
    const now = Date.now();
    const seeded = performance.now();
    await seed(admin, now, ROWS);
    console.log(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs`,
    );
    console.log(`seeded ${ROWS} audit rows, ${USERS} users in ${ORGS} organisations in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    const org = (await admin.query<{ id: string }>(`select id from organizations where slug = 'bench-0'`)).rows[0]!.id;
    const day = (n: number) => new Date(Math.floor(now / DAY_MS) * DAY_MS - n * DAY_MS);
    const ranges: [string, AnalyticsRange][] = [
      ['one org, 30 days by day', { from: day(29), to: day(-1), unit: 'day', organizationId: org }],
      ['one org, 365 days by month', { from: day(364), to: day(-1), unit: 'month', organizationId: org }],
      ['all orgs, 30 days by day', { from: day(29), to: day(-1), unit: 'day', organizationId: null }],
      ['all orgs, 365 days by month', { from: day(364), to: day(-1), unit: 'month', organizationId: null }],
    ];
    const q = analyticsQueries();
    const statements = (r: AnalyticsRange): [string, RawBuilder<unknown>][] => [
      ['events', q.eventCounts(r, ANALYTICS_EVENT_TYPES, EVENTS.reset)],
      ['risk logins', q.riskLoginCounts(r)],
      ['coverage/bucket', q.coverage(r, KINDS, true)],
      ['coverage/range', q.coverage(r, KINDS, false)],
      ['kinds', q.kindHolders(r)],
    ];
    const timeOf = (query: RawBuilder<unknown>) => medianMs(() => query.execute(handle.db));
    const measure = async (variant: string, explain: boolean) => {
      console.log(`\n== ${variant}`);
      for (const [label, r] of ranges) {
        const parts: string[] = [];
        let total = 0;
        for (const [name, query] of statements(r)) {
          const ms = await timeOf(query);
          total += ms;
          parts.push(`${name} ${ms.toFixed(1)}`);
        }
        console.log(`${label}: ${total.toFixed(1)} ms per API request (${parts.join(', ')})`);
      }
      if (explain) {
        const [label, r] = ranges[0]!;
        for (const [name, query] of [statements(r)[0]!, statements(r)[2]!]) {
          const compiled = query.compile(handle.db);
          const plan = await admin.query(`explain (analyze, buffers) ${compiled.sql}`, compiled.parameters as unknown[]);
          console.log(`EXPLAIN ANALYZE, ${name}, ${label}:\n  ${plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n  ')}`);
        }
      }
    };

    // As autovacuum leaves an insert-only table: visibility map set, so index-only scans skip the heap.
    const analyse = async () => {
      for (const table of ['audit_events', 'credentials', 'users']) await admin.query(`vacuum analyze ${table}`);
    };
    await admin.query('drop index audit_events_type_at_organization');
    await analyse();
    await measure('no analytics index (before migration 0029)', false);
    for (const [name, ddl] of [
      [
        '(organization_id, type, at) include (subject)',
        'create index audit_events_analytics_alt on audit_events (organization_id, type, at) include (subject)',
      ],
      ["migration 0029's (type, at, organization_id) include (subject)", MIGRATION_INDEX],
    ] as const) {
      const built = performance.now();
      await admin.query(ddl);
      console.log(`\nbuilding ${name} on ${ROWS} rows: ${(performance.now() - built).toFixed(0)} ms`);
      await analyse();
      await measure(name, true);
      await admin.query('drop index if exists audit_events_analytics_alt');
    }
    await rollup(admin, ranges);
  } finally {
    await handle.close();
    if (keep) console.log(`\nschema kept: ${schema}`);
    else await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.end();
  }
}

/** The median time of `RUNS` runs after one warm-up. */
async function medianMs(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

async function seed(c: pg.Client, now: number, ROWS: number): Promise<void> {
  await c.query(`insert into organizations (slug, name) select 'bench-' || g, 'Bench ' || g from generate_series(0, ${ORGS - 1}) g`);
  // Half of the accounts in the first organisation, the rest spread over the others.
  await c.query(`insert into users (external_id, username, organization_id, status)
    select 'u' || g, 'user' || g, (select id from organizations where slug = 'bench-' || case when g % 2 = 0 then 0 else 1 + g % ${ORGS - 1} end), 'active'
    from generate_series(0, ${USERS - 1}) g`);
  await c.query(`insert into credentials (user_id, kind, confirmed_at)
    select id, k.kind, now() - (random() * 400) * interval '1 day' from users
    cross join lateral (values ('totp', 0.6), ('passkey', 0.2), ('phone', 0.15)) as k(kind, share) where random() < k.share`);
  const total = MIX.reduce((s, m) => s + m[1], 0);
  let start = 0;
  const cases = MIX.map(([type, weight, outcome, data]) => {
    const upTo = (start += weight / total);
    return { type, outcome, data, upTo };
  });
  const pick = (field: 'type' | 'outcome' | 'data') =>
    `case ${cases.map((m) => `when r < ${m.upTo} then ${field === 'data' ? m.data : `'${m[field]}'`}`).join(' ')} else ${field === 'data' ? `'{}'::jsonb` : `'${cases[0]![field]}'`} end`;
  // Numbered, so that each seeded row finds its account by an integer key.
  await c.query(`create temporary table seed_users as select row_number() over (order by id) - 1 as n, id, organization_id from users`);
  await c.query('create unique index on seed_users (n)');
  await c.query('set session_replication_role = replica');
  // Ten batches, so that one statement's memory stays small.
  const batch = Math.ceil(ROWS / 10);
  for (let b = 0; b < ROWS; b += batch) {
    await c.query(`insert into audit_events (id, at, type, outcome, subject, organization_id, data, prev_hash, hash)
      select i, to_timestamp(${now / 1000} - (${ROWS} - i + random() * 20) * ${(365 * 86400) / ROWS}), ${pick('type')}, ${pick('outcome')},
        u.id::text,
        -- As recorded: these sign-in events carry no organisation.
        case when (${pick('type')}) in ('authn.login.denied', 'authn.mfa.challenged') then null else u.organization_id end,
        ${pick('data')}, repeat('0', 64), repeat('0', 64)
      from (select i, random() as r, 1 + (i::bigint * 7919) % ${USERS} as n from generate_series(${b + 1}, ${Math.min(b + batch, ROWS)}) i) s
      join seed_users u on u.n = s.n - 1`);
  }
  await c.query('set session_replication_role = origin');
}

/** The same answers from daily rolled-up tables, built here as a trigger would keep them. */
async function rollup(c: pg.Client, ranges: [string, AnalyticsRange][]): Promise<void> {
  const built = performance.now();
  await c.query(
    `create table audit_daily as
    select (e.at at time zone 'UTC')::date as day, e.organization_id, e.type, e.outcome,
      coalesce(e.data->>'method', e.data->>'recommendation') as key, count(*)::int as count
    from audit_events e where e.type = any($1::text[]) group by 1, 2, 3, 4, 5`,
    [ANALYTICS_EVENT_TYPES],
  );
  await c.query(`create table audit_daily_signins as
    select distinct (e.at at time zone 'UTC')::date as day, e.organization_id, e.subject
    from audit_events e where e.type = 'authn.login.succeeded'`);
  await c.query('create index on audit_daily (organization_id, day)');
  await c.query('create index on audit_daily_signins (organization_id, day)');
  await c.query('analyze audit_daily; analyze audit_daily_signins');
  const sizes = await c.query<{ daily: string; signins: string }>(
    `select (select count(*) from audit_daily) as daily, (select count(*) from audit_daily_signins) as signins`,
  );
  console.log(
    `\n== daily rolled-up tables (${sizes.rows[0]!.daily} count rows, ${sizes.rows[0]!.signins} sign-in rows; built in ${(performance.now() - built).toFixed(0)} ms)`,
  );
  for (const [label, r] of ranges) {
    const org = r.organizationId === null ? '' : `and organization_id = '${r.organizationId}'`;
    const events = `select date_trunc('${r.unit}', day) as bucket, type, outcome, key, sum(count) from audit_daily
      where type = any($1::text[]) and day >= $2::date and day < $3::date ${org} group by 1, 2, 3, 4`;
    const signins = `select date_trunc('${r.unit}', day) as bucket, count(distinct subject) from audit_daily_signins
      where day >= $1::date and day < $2::date ${org} group by 1`;
    let total = 0;
    const parts: string[] = [];
    for (const [name, text, params] of [
      ['events', events, [ANALYTICS_EVENT_TYPES, r.from, r.to]],
      ['signed-in per bucket', signins, [r.from, r.to]],
    ] as const) {
      const ms = await medianMs(() => c.query(text, [...params]));
      total += ms;
      parts.push(`${name} ${ms.toFixed(1)}`);
    }
    console.log(`${label}: ${total.toFixed(1)} ms for the two rolled-up reads (${parts.join(', ')}); the credential joins come on top`);
  }
}

// Run directly (npx tsx bench/analytics.ts), or by run.ts for `--only analytics`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false } } });
  await runAnalyticsBench({ rows: Number(values.rows), keep: values.keep });
}
