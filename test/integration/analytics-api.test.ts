/**
 * GET /api/v1/analytics/mfa: a known audit trail (appended through the audit service, so it is
 * hash-chained like any other) and credentials with known confirmation times give exact numbers
 * per day, ISO week and month; an organisation's key sees its own organisation only; bad input is
 * a JSON 400; and the answer is the same from a new server on the same database.
 */
import { sql } from 'kysely';
import { startServer, type RunningServer } from '../../src/server.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, testConfig, type TestIdp } from '../helpers/env.js';

let idp: TestIdp;
let again: RunningServer | undefined;
const api = apiClient(() => idp.url);
const orgs = { acme: '', globex: '' };
const keys = { acme: '', globex: '', noRead: '' };
const users: Record<'u1' | 'u2' | 'u3' | 'v1', string> = { u1: '', u2: '', u3: '', v1: '' };

type Who = keyof typeof users;
const at = (iso: string) => new Date(iso);

/** Appends one event through the audit service (the chain's own path), as its services record it. */
async function event(
  type: string,
  when: string,
  who: Who | null,
  data: Record<string, unknown> = {},
  opts: { noOrganization?: boolean; outcome?: 'success' | 'failure' } = {},
) {
  const organizationId = who === null || opts.noOrganization ? null : who === 'v1' ? orgs.globex : orgs.acme;
  await idp.container.audit.record({ type, outcome: opts.outcome ?? 'success', at: at(when), subject: who && users[who], organizationId, data });
}

async function credential(who: Who, kind: string, confirmedAt: string | null, usedAt: string | null = null) {
  await sql`insert into credentials (user_id, kind, confirmed_at, used_at, created_at)
    values (${users[who]}, ${kind}, ${confirmedAt && at(confirmedAt)}, ${usedAt && at(usedAt)}, ${at('2026-01-01T00:00:00Z')})`.execute(idp.container.db);
}

beforeAll(async () => {
  idp = await startTestIdp('analytics-api');
  for (const slug of ['acme', 'globex'] as const) {
    const r = await api('POST', '/organizations', { slug });
    expect(r.status).toBe(201);
    orgs[slug] = r.body.organization.id;
  }
  keys.acme = (await idp.container.apiKeys.create('acme', ['idp:read'] as never, orgs.acme)).key;
  keys.globex = (await idp.container.apiKeys.create('globex', ['idp:read'] as never, orgs.globex)).key;
  keys.noRead = (await idp.container.apiKeys.create('sentinel', ['sentinel:write'] as never, null)).key;
  for (const [who, org] of [
    ['u1', 'acme'],
    ['u2', 'acme'],
    ['u3', 'acme'],
    ['v1', 'globex'],
  ] as const) {
    const r = await api('POST', '/users', { user: { external_id: `analytics-${who}`, organization: org } });
    expect(r.status).toBe(201);
    users[who] = r.body.user.id;
  }

  // Outside the range (2026-03-01 .. 2026-03-10): never counted.
  await event('authn.factor.enrolled', '2026-02-28T23:59:59.999Z', 'u1', { method: 'totp' });
  await event('authn.factor.enrolled', '2026-03-11T00:00:00.000Z', 'u1', { method: 'totp' });
  await event('authn.login.succeeded', '2026-03-11T00:00:00.000Z', 'u3');

  // 2026-03-02 (Monday)
  await event('authn.factor.enrolled', '2026-03-02T09:00:00Z', 'u1', { method: 'totp' });
  await event('authn.login.succeeded', '2026-03-02T10:30:00Z', 'u1', { amr: ['pwd', 'otp'] });
  await event('authn.login.succeeded', '2026-03-02T11:00:00Z', 'u2', { amr: ['pwd'] });
  await event('authn.login.succeeded', '2026-03-02T12:00:00Z', 'u2', { amr: ['pwd'] });
  await event('authn.mfa.verified', '2026-03-02T10:29:00Z', 'u1', { method: 'totp' });
  await event('authn.mfa.verified', '2026-03-02T13:00:00Z', 'u1', { method: 'totp' });
  await event('authn.mfa.failed', '2026-03-02T10:28:00Z', 'u1', { method: 'totp' }, { outcome: 'failure' });
  // An adaptive risk verdict inside a login: recorded without an organisation, and one that is not a risk verdict.
  await event('authn.mfa.challenged', '2026-03-02T10:27:00Z', 'u1', { methods: ['totp'], reasons: ['risk_challenge'] }, { noOrganization: true });
  await event('authn.mfa.challenged', '2026-03-02T10:27:30Z', 'u1', { methods: ['totp'], reasons: ['policy'] }, { noOrganization: true });
  // 2026-03-03
  await event('authn.factor.enrolled', '2026-03-03T12:00:00Z', 'u2', { method: 'passkey' });
  await event('authn.mfa.verified', '2026-03-03T12:05:00Z', 'u2', { method: 'passkey' });
  await event('authn.step_up.completed', '2026-03-03T12:05:00Z', 'u2', { acr: 'aal2' });
  await event('authn.account.locked', '2026-03-03T15:00:00Z', 'u3', { failures: 5 });
  await event('authn.mfa.locked', '2026-03-03T16:00:00Z', 'u1', { until: '2026-03-03T16:15:00Z' });
  // 2026-03-05
  await event('authn.factor.removed', '2026-03-05T08:00:00Z', 'u1', { method: 'totp' });
  await event('admin.user.factors_reset', '2026-03-05T09:00:00Z', 'u2', { methods: ['totp', 'passkey', 'sms'], removed: ['passkey', 'sms'] });
  await event('risk.sentinel.assessed', '2026-03-05T10:00:00Z', 'u1', { recommendation: 'allow' });
  await event('risk.sentinel.assessed', '2026-03-05T10:01:00Z', 'u2', { recommendation: 'allow' });
  await event('risk.sentinel.assessed', '2026-03-05T10:02:00Z', 'u3', { recommendation: 'deny' }, { outcome: 'failure' });
  await event('authn.login.denied', '2026-03-05T11:00:00Z', 'u3', { reasons: ['risk_denied'] }, { noOrganization: true, outcome: 'failure' });
  await event('authn.login.succeeded', '2026-03-05T12:00:00Z', 'u3');
  await event('authn.login.succeeded', '2026-03-05T13:00:00Z', 'u1');
  // 2026-03-10, the range's last instant
  await event('authn.step_up.completed', '2026-03-10T23:59:59.999Z', 'u1', { for: 'factor_management', method: 'totp' });

  // The other organisation: in its own numbers only.
  await event('authn.factor.enrolled', '2026-03-02T09:00:00Z', 'v1', { method: 'totp' });
  await event('authn.login.succeeded', '2026-03-02T09:30:00Z', 'v1');
  await event('authn.mfa.verified', '2026-03-02T09:29:00Z', 'v1', { method: 'totp' });
  await event('risk.sentinel.assessed', '2026-03-05T10:00:00Z', 'v1', { recommendation: 'deny' }, { outcome: 'failure' });
  await event('authn.login.denied', '2026-03-05T11:00:00Z', 'v1', { reasons: ['risk_denied'] }, { noOrganization: true, outcome: 'failure' });

  // Credentials as they stand now: u1's app since 03-02 10:00; u2's passkey since 03-03 12:00; u3 only
  // backup codes (a recovery method: not coverage); an unconfirmed enrolment and a used code count for nothing.
  await credential('u1', 'totp', '2026-03-02T10:00:00Z');
  await credential('u2', 'passkey', '2026-03-03T12:00:00Z');
  await credential('u3', 'backup_code', '2026-01-01T00:00:00Z');
  await credential('u3', 'totp', null);
  await credential('u2', 'backup_code', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z');
  await credential('v1', 'totp', '2026-01-01T00:00:00Z');
});

afterAll(async () => {
  await again?.close();
  await idp.stop();
});

const RANGE = 'from=2026-03-01&to=2026-03-10';
const DAYS = Array.from({ length: 10 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')}`);
/** Ten days of zeros with the given days' values. */
const days = (values: Record<number, number>) => DAYS.map((_, i) => values[i + 1] ?? 0);

describe('the numbers per bucket', () => {
  test("by day, for one organisation: every series exactly as seeded, the other organisation's events left out", async () => {
    const r = await api('GET', `/analytics/mfa?${RANGE}&interval=day&organization=${orgs.acme}`);
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b).toMatchObject({ organization_id: orgs.acme, from: '2026-03-01', to: '2026-03-10', interval: 'day', buckets: DAYS });
    expect(b.methods).toEqual(expect.arrayContaining(['totp', 'passkey', 'sms', 'backup_code']));
    expect(b.enrolments.totp).toEqual({ enrolled: days({ 2: 1 }), removed: days({ 5: 1 }) });
    expect(b.enrolments.passkey).toEqual({ enrolled: days({ 3: 1 }), removed: days({ 5: 1 }) });
    expect(b.enrolments.sms).toEqual({ enrolled: days({}), removed: days({ 5: 1 }) });
    expect(b.enrolments.email).toEqual({ enrolled: days({}), removed: days({}) });
    expect(b.challenges.totp).toEqual({ succeeded: days({ 2: 2 }), failed: days({ 2: 1 }) });
    expect(b.challenges.passkey).toEqual({ succeeded: days({ 3: 1 }), failed: days({}) });
    expect(b.step_ups).toEqual(days({ 3: 1, 10: 1 }));
    expect(b.lockouts).toEqual({ password: days({ 3: 1 }), mfa: days({ 3: 1 }) });
    expect(b.risk).toEqual({
      sentinel: { allow: days({ 5: 2 }), challenge: days({}), deny: days({ 5: 1 }) },
      sign_in: { challenge: days({ 2: 1 }), deny: days({ 5: 1 }) },
    });
    // 03-02: u1 (app confirmed 10:00 that day) and u2 (passkey only from 03-03); 03-05: u3 (backup codes only) and u1.
    expect(b.coverage).toEqual({
      active_users: days({ 2: 2, 5: 2 }),
      with_second_factor: days({ 2: 1, 5: 1 }),
      with_phishing_resistant: days({}),
      range: {
        active_users: 3,
        with_second_factor: 2,
        with_phishing_resistant: 1,
        by_method: expect.objectContaining({ totp: 1, passkey: 1, backup_code: 1, sms: 0, email: 0 }),
      },
    });
  });

  test('by ISO week (from Monday) and by month: the same events summed into calendar buckets', async () => {
    const week = (await api('GET', `/analytics/mfa?${RANGE}&interval=week&organization=${orgs.acme}`)).body;
    expect(week.buckets).toEqual(['2026-02-23', '2026-03-02', '2026-03-09']);
    expect(week.enrolments.totp).toEqual({ enrolled: [0, 1, 0], removed: [0, 1, 0] });
    expect(week.challenges.totp).toEqual({ succeeded: [0, 2, 0], failed: [0, 1, 0] });
    expect(week.step_ups).toEqual([0, 1, 1]);
    // u1 signed in twice in the week of 03-02: one active user, counted once.
    expect(week.coverage).toMatchObject({ active_users: [0, 3, 0], with_second_factor: [0, 2, 0], with_phishing_resistant: [0, 1, 0] });

    const month = (await api('GET', `/analytics/mfa?${RANGE}&interval=month&organization=${orgs.acme}`)).body;
    expect(month.buckets).toEqual(['2026-03-01']);
    expect(month.lockouts).toEqual({ password: [1], mfa: [1] });
    expect(month.risk.sentinel).toEqual({ allow: [2], challenge: [0], deny: [1] });
    expect(month.coverage).toMatchObject({ active_users: [3], with_second_factor: [2], with_phishing_resistant: [1] });
  });

  test('an operator key without an organization reads every organisation', async () => {
    const b = (await api('GET', `/analytics/mfa?${RANGE}&interval=month`)).body;
    expect(b.organization_id).toBeNull();
    expect(b.enrolments.totp).toEqual({ enrolled: [2], removed: [1] });
    expect(b.challenges.totp.succeeded).toEqual([3]);
    expect(b.risk).toEqual({ sentinel: { allow: [2], challenge: [0], deny: [2] }, sign_in: { challenge: [1], deny: [2] } });
    expect(b.coverage.range).toMatchObject({ active_users: 4, with_second_factor: 3, with_phishing_resistant: 1 });
  });

  test('without from and to: the last 30 days, today included', async () => {
    const b = (await api('GET', '/analytics/mfa')).body;
    const today = new Date().toISOString().slice(0, 10);
    expect(b.to).toBe(today);
    expect(b.buckets).toHaveLength(30);
    expect(b.buckets[29]).toBe(today);
    expect(b.from).toBe(b.buckets[0]);
  });
});

describe('organisation scoping', () => {
  test("an organisation's key reads its own organisation without naming it, and the same with its id", async () => {
    const implied = await api('GET', `/analytics/mfa?${RANGE}&interval=month`, undefined, keys.acme);
    expect(implied.status).toBe(200);
    expect(implied.body.organization_id).toBe(orgs.acme);
    expect(implied.body.enrolments.totp).toEqual({ enrolled: [1], removed: [1] });
    expect(implied.body.risk.sign_in).toEqual({ challenge: [1], deny: [1] });
    const named = await api('GET', `/analytics/mfa?${RANGE}&interval=month&organization=${orgs.acme}`, undefined, keys.acme);
    expect(named.body).toEqual(implied.body);

    const globex = (await api('GET', `/analytics/mfa?${RANGE}&interval=month`, undefined, keys.globex)).body;
    expect(globex.enrolments.totp).toEqual({ enrolled: [1], removed: [0] });
    expect(globex.risk).toEqual({ sentinel: { allow: [0], challenge: [0], deny: [1] }, sign_in: { challenge: [0], deny: [1] } });
    expect(globex.coverage.range).toMatchObject({ active_users: 1, with_second_factor: 1, with_phishing_resistant: 0 });
  });

  test('another organisation, or one that does not exist, is absent (404); no key is 401, a key without idp:read 403', async () => {
    expectJsonError(await api('GET', `/analytics/mfa?organization=${orgs.globex}`, undefined, keys.acme), 404, 'not_found');
    expectJsonError(await api('GET', `/analytics/mfa?organization=${orgs.acme}`, undefined, keys.globex), 404, 'not_found');
    expectJsonError(await api('GET', '/analytics/mfa?organization=00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectJsonError(await api('GET', '/analytics/mfa', undefined, null), 401);
    expectJsonError(await api('GET', '/analytics/mfa', undefined, keys.noRead), 403, 'insufficient_scope');
  });
});

describe('validation', () => {
  test.each([
    ['from=2026-13-01', 'from'],
    ['from=yesterday', 'from'],
    ['to=2026-03-01T00:00:00Z', 'to'],
    ['from=2026-03-10&to=2026-03-09', 'to'],
    ['from=2025-01-01&to=2026-01-02', 'to'],
    ['interval=hour', 'interval'],
    ['organization=acme', 'organization'],
    ['type=authn.login.succeeded', 'type'],
    ['from=2026-03-01&from=2026-03-02', 'from'],
  ])('%s → 400 JSON naming %s', async (query, field) => {
    expectJsonError(await api('GET', `/analytics/mfa?${query}`), 400, 'invalid_request', field);
  });

  test('a range of exactly 366 days is accepted', async () => {
    expect((await api('GET', '/analytics/mfa?from=2025-03-10&to=2026-03-10&interval=month')).status).toBe(200);
  });
});

test('the events stay a valid hash chain, and a new server on the same database answers the same', async () => {
  expect((await api('GET', '/audit-events/verify')).body).toEqual({ valid: true, checked: expect.any(Number) });
  const before = (await api('GET', `/analytics/mfa?${RANGE}&interval=week&organization=${orgs.acme}`)).body;
  again = await startServer(testConfig(idp.name));
  const after = await apiClient(() => again!.url)('GET', `/analytics/mfa?${RANGE}&interval=week&organization=${orgs.acme}`);
  expect(after.body).toEqual(before);
});

test('the embedded database (PGlite) answers the same aggregates', async () => {
  const lite = await startTestIdp('analytics-pglite', 'pglite');
  try {
    const liteApi = apiClient(() => lite.url);
    const user = (await liteApi('POST', '/users', { user: { external_id: 'analytics-lite' } })).body.user.id as string;
    const record = (type: string, when: string, data: Record<string, unknown>) =>
      lite.container.audit.record({ type, outcome: 'success', at: at(when), subject: user, organizationId: null, data });
    await record('authn.factor.enrolled', '2026-03-02T09:00:00Z', { method: 'totp' });
    await record('admin.user.factors_reset', '2026-03-03T09:00:00Z', { methods: ['totp', 'sms'], removed: ['totp', 'sms'] });
    await record('authn.login.succeeded', '2026-03-02T10:00:00Z', {});
    await sql`insert into credentials (user_id, kind, confirmed_at) values (${user}, 'passkey', ${at('2026-03-01T00:00:00Z')})`.execute(lite.container.db);
    const b = (await liteApi('GET', '/analytics/mfa?from=2026-03-01&to=2026-03-07&interval=week')).body;
    expect(b.buckets).toEqual(['2026-02-23', '2026-03-02']);
    expect(b.enrolments.totp).toEqual({ enrolled: [0, 1], removed: [0, 1] });
    expect(b.enrolments.sms).toEqual({ enrolled: [0, 0], removed: [0, 1] });
    expect(b.coverage).toMatchObject({ active_users: [0, 1], with_second_factor: [0, 1], with_phishing_resistant: [0, 1] });
  } finally {
    await lite.stop();
  }
});
