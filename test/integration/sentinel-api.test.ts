/**
 * The Sentinel API through a real server, PostgreSQL and Redis: scopes, request validation, a
 * user's first attempt against one from a place and browser seen before, impossible travel, the
 * operator's deny list and thresholds, an organisation-bound key, a broken signal (fail closed),
 * the bounded login history, and how long an assessment takes.
 */
import { contentDigest } from '../../src/lib/audit-chain.js';
import { sql } from 'kysely';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';

let idp: TestIdp;
let sentinelKey = '';
let readerKey = '';
const api = apiClient(() => idp.url);

const BERLIN = '81.169.145.1';
const SYDNEY = '1.1.1.1';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const DAY = 86_400_000;

const discover = (context: Record<string, unknown>, key: string | null = sentinelKey, id = 'assess-1') =>
  api('POST', '/sentinel/discover', { sentinel: { id, context } }, key);

async function newUser(externalId: string, organization?: string): Promise<string> {
  const r = await api('POST', '/users', { user: { external_id: externalId, ...(organization ? { organization } : {}) } });
  expect(r.status).toBe(201);
  return r.body.user.id as string;
}

const assessments = async () =>
  Number(
    (
      await idp.container.db
        .selectFrom('auditEvents')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('type', '=', 'risk.sentinel.assessed')
        .executeTakeFirstOrThrow()
    ).n,
  );
const assessed = () =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', 'risk.sentinel.assessed').orderBy('id', 'desc').executeTakeFirstOrThrow();

beforeAll(async () => {
  idp = await startTestIdp('sentinel-api');
  sentinelKey = (await idp.container.apiKeys.create('sentinel', ['sentinel:write'], null)).key;
  readerKey = (await idp.container.apiKeys.create('reader', ['idp:read', 'idp:write'], null)).key;
});
afterAll(async () => {
  await idp.stop();
});

describe('access', () => {
  test('needs a key with sentinel:write (or admin)', async () => {
    const context = { ip: BERLIN, ua: CHROME_MAC };
    expectJsonError(await discover(context, null), 401, 'invalid_token');
    expectJsonError(await discover(context, readerKey), 403, 'insufficient_scope');
    expect((await discover(context)).status).toBe(200);
    expect((await discover(context, undefined as never)).status).toBe(200); // the admin key
  });
});

describe('rate limit', () => {
  let small: TestIdp;
  beforeAll(async () => {
    small = await startTestIdp('sentinel-api-limit', 'postgres+redis', { rateLimit: { sentinelPerKeyPerMinute: 3 } });
  });
  afterAll(async () => {
    await small.stop();
  });

  test('a key past its assessments per minute gets 429, another key is not affected', async () => {
    const { key } = await small.container.apiKeys.create('busy', ['sentinel:write'], null);
    const call = (k: string) =>
      fetch(`${small.url}/api/v1/sentinel/discover`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sentinel: { id: 'limit', context: { ip: BERLIN, ua: CHROME_MAC } } }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(key)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await call(key);
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await call(ADMIN_KEY)).status).toBe(200);
  });
});

describe('validation', () => {
  test.each([
    ['an address that is not one', { sentinel: { id: 'x', context: { ip: '999.1.1.1', ua: CHROME_MAC } } }, 'sentinel.context.ip'],
    ['a host name', { sentinel: { id: 'x', context: { ip: 'example.com', ua: CHROME_MAC } } }, 'sentinel.context.ip'],
    ['a shortened IPv4 address', { sentinel: { id: 'x', context: { ip: '127.1', ua: CHROME_MAC } } }, 'sentinel.context.ip'],
    ['a user agent past the cap', { sentinel: { id: 'x', context: { ip: BERLIN, ua: 'a'.repeat(1025) } } }, 'sentinel.context.ua'],
    ['control characters in the user agent', { sentinel: { id: 'x', context: { ip: BERLIN, ua: 'Mozilla\u0000/5.0' } } }, 'sentinel.context.ua'],
    ['no user agent', { sentinel: { id: 'x', context: { ip: BERLIN } } }, 'sentinel.context.ua'],
    ['no id', { sentinel: { context: { ip: BERLIN, ua: CHROME_MAC } } }, 'sentinel.id'],
    ['an unknown field', { sentinel: { id: 'x', context: { ip: BERLIN, ua: CHROME_MAC, country: 'DE' } } }, 'sentinel.context'],
    ['no sentinel object', { context: { ip: BERLIN } }, 'sentinel'],
  ])('%s → 400 naming the field', async (_what, payload, field) => {
    const before = await assessments();
    expectJsonError(await api('POST', '/sentinel/discover', payload), 400, 'invalid_request', field);
    expect(await assessments()).toBe(before);
  });

  test('a body that is not JSON → 400', async () => {
    const r = await api('POST', '/sentinel/discover', undefined, undefined, { body: '{"sentinel":', type: 'application/json' });
    expect(r.status).toBe(400);
  });
});

describe('assessments', () => {
  test('an unknown user is no error: scored without history, and nothing is recorded for it', async () => {
    const r = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: 'nobody-we-know' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'authorized', risk_score: 0, recommendation: 'allow' });
    const event = await assessed();
    expect(event).toMatchObject({ outcome: 'success', subject: null, actor: expect.stringMatching(/^apikey:/) });
    expect(event.data).toMatchObject({ sentinel_id: 'assess-1', user_known: false, recommendation: 'allow', risk_score: 0 });
  });

  test("a user's first attempt is challenged; the same device and address after it is allowed", async () => {
    const id = await newUser('first-timer');
    const first = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: 'first-timer' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'authorized', recommendation: 'challenge' });
    expect(first.body.risk_score).toBeGreaterThanOrEqual(0.5);
    expect(first.body.risk_score).toBeLessThan(0.9);
    expect(await assessed()).toMatchObject({ subject: id });

    // Addressed by our own id this time: the same user, now with a history.
    const again = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: id });
    expect(again.body).toEqual({ status: 'authorized', risk_score: 0, recommendation: 'allow' });

    // Another browser in the same /24: a new device, a new address in a known network.
    const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
    const other = await discover({ ip: '81.169.145.99', ua: firefox, user_id: id });
    expect(other.body.recommendation).toBe('challenge');
    expect((await assessed()).data).toMatchObject({ signals: expect.objectContaining({ new_device: 1, new_network: 0.3, new_country: 0 }) });
  });

  test('Germany, then Australia minutes later: impossible travel is denied with its score, and not learnt', async () => {
    await newUser('traveller');
    expect((await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: 'traveller' })).status).toBe(200);
    const r = await discover({ ip: SYDNEY, ua: CHROME_MAC, user_id: 'traveller' });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'High risk detection', error_description: expect.any(String), risk_score: expect.any(Number) });
    expect(r.body.risk_score).toBeGreaterThanOrEqual(0.9);
    const event = await assessed();
    expect(event.outcome).toBe('failure');
    expect(event.data).toMatchObject({ recommendation: 'deny', signals: expect.objectContaining({ impossible_travel: 1, new_country: 1 }) });
    // A denied attempt is not recorded: trying again does not make Sydney usual.
    expect((await discover({ ip: SYDNEY, ua: CHROME_MAC, user_id: 'traveller' })).status).toBe(403);
  });

  test('failed attempts in the audit trail count per account and per address (in either spelling)', async () => {
    const id = await newUser('guessed');
    const failure = (ip: string, subject: string | null) =>
      idp.container.audit.record({ type: 'authn.login.failed', outcome: 'failure', subject, ip, data: { reason: 'wrong_password' } });
    for (let i = 0; i < 5; i++) await failure('::ffff:198.51.100.7', id);
    await failure('198.51.100.7', null);
    // Older than the window, or not a sign-in failure: not counted.
    const old = { type: 'authn.login.failed', outcome: 'failure', subject: id, ip: '198.51.100.7', at: new Date(Date.now() - 3_600_000), data: {} };
    await idp.container.db
      .insertInto('auditEvents')
      .values({ ...old, data: '{}', hash: contentDigest({ ...old, actor: null, organizationId: null, requestId: null, clientId: null }) })
      .execute();
    await idp.container.audit.record({ type: 'admin.client.created', outcome: 'failure', subject: id, ip: '198.51.100.7' });
    await discover({ ip: '198.51.100.7', ua: CHROME_MAC, user_id: id });
    expect((await assessed()).data).toMatchObject({ signals: expect.objectContaining({ failed_attempts_account: 1, failed_attempts_ip: 0.3 }) });
  });

  test('automation user agents score high even for an unknown user', async () => {
    const r = await discover({ ip: BERLIN, ua: 'python-requests/2.31.0' });
    expect(r.body.risk_score).toBe(0.7);
    expect(r.body.recommendation).toBe('challenge');
  });
});

describe('settings', () => {
  afterEach(async () => {
    expect((await api('PATCH', '/settings', { risk: { challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [] } })).status).toBe(200);
  });

  test('an address on the deny list → 403 with risk_score 1; the list is validated', async () => {
    expectJsonError(await api('PATCH', '/settings', { risk: { deny_list: ['203.0.113.0/24', '10.1/8'] } }), 400, 'invalid_request', 'risk.deny_list.1');
    expectJsonError(await api('PATCH', '/settings', { risk: { deny_threshold: 1.5 } }), 400, 'invalid_request', 'risk.deny_threshold');
    const patched = await api('PATCH', '/settings', { risk: { deny_list: ['203.0.113.0/24', '2001:db8::/32'] } });
    expect(patched.body.risk).toEqual({ challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: ['203.0.113.0/24', '2001:db8::/32'], adaptive: false });
    for (const ip of ['203.0.113.77', '2001:db8:1::5']) {
      const r = await discover({ ip, ua: CHROME_MAC });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ error: 'High risk detection', risk_score: 1 });
    }
    expect((await discover({ ip: '203.0.114.1', ua: CHROME_MAC })).status).toBe(200);
  });

  test('the thresholds decide: a lower deny threshold turns a challenge into a 403', async () => {
    await newUser('strict');
    await api('PATCH', '/settings', { risk: { deny_threshold: 0.5 } });
    const r = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: 'strict' });
    expect(r.status).toBe(403);
    expect(r.body.risk_score).toBeGreaterThanOrEqual(0.5);
    await api('PATCH', '/settings', { risk: { deny_threshold: 0.9, challenge_threshold: 0.99 } });
    expect((await discover({ ip: SYDNEY, ua: CHROME_MAC, user_id: 'strict' })).body.recommendation).toBe('allow');
  });
});

describe('organisations', () => {
  test("a key bound to an organisation scores another organisation's user as unknown, and records nothing for it", async () => {
    const org = await api('POST', '/organizations', { slug: 'elsewhere' });
    expect(org.status).toBe(201);
    const bound = (await idp.container.apiKeys.create('bound', ['sentinel:write'], org.body.organization.id as string)).key;
    const id = await newUser('not-theirs');
    const r = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: id }, bound);
    expect(r.body).toEqual({ status: 'authorized', risk_score: 0, recommendation: 'allow' });
    expect(await idp.container.db.selectFrom('riskLogins').selectAll().where('userId', '=', id).execute()).toEqual([]);
  });
});

describe('failing closed', () => {
  test('signals whose facts cannot be read count as high risk: the attempt is denied, never allowed', async () => {
    const id = await newUser('broken-history');
    await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: id });
    expect((await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: id })).body.recommendation).toBe('allow');
    await sql`alter table risk_logins rename to risk_logins_away`.execute(idp.container.db);
    try {
      const r = await discover({ ip: BERLIN, ua: CHROME_MAC, user_id: id });
      expect(r.status).toBe(403);
      expect(r.body.risk_score).toBeGreaterThanOrEqual(0.9);
    } finally {
      await sql`alter table risk_logins_away rename to risk_logins`.execute(idp.container.db);
    }
  });

  test('an address that does not parse (a broken proxy header) is denied, whatever the user', async () => {
    const id = await newUser('unparsable');
    for (const ip of ['unknown', '1.2.3.4, 5.6.7.8', '']) {
      const r = await idp.container.risk.assess({ ip, userAgent: CHROME_MAC, userId: id, at: idp.container.clock.now() });
      expect(r.recommendation).toBe('deny');
      expect(r.signals.find((s) => s.name === 'deny_list')).toEqual({ name: 'deny_list', score: 1, evidence: { failed: 'error' } });
    }
  });
});

describe('login history', () => {
  test('record() keeps the newest logins per user and drops those past the age bound', async () => {
    const id = await newUser('history');
    const now = idp.container.clock.now();
    await idp.container.risk.record({ userId: id, ip: SYDNEY, userAgent: CHROME_MAC, at: now - 200 * DAY });
    await idp.container.risk.record({ userId: id, ip: BERLIN, userAgent: CHROME_MAC, deviceToken: 'cookie-1', at: now });
    const rows = await idp.container.db.selectFrom('riskLogins').selectAll().where('userId', '=', id).execute();
    expect(rows).toEqual([
      expect.objectContaining({ ip: BERLIN, network: '81.169.145.0/24', country: 'DE', uaFamily: 'Chrome/macOS', deviceKey: expect.any(String) }),
    ]);
    expect(rows[0]!.deviceKey).not.toContain('cookie-1');

    for (let i = 0; i < 205; i++) await idp.container.risk.record({ userId: id, ip: `81.169.145.${i % 250}`, at: now + i });
    const kept = await idp.container.db.selectFrom('riskLogins').select(['at']).where('userId', '=', id).orderBy('at', 'asc').execute();
    expect(kept).toHaveLength(200);
    expect(kept[0]!.at.getTime()).toBe(now + 5);

    // The sweep drops what has grown too old since, for users who stopped signing in.
    await idp.container.db
      .updateTable('riskLogins')
      .set({ at: new Date(now - 181 * DAY) })
      .where('userId', '=', id)
      .execute();
    await idp.container.risk.sweep();
    expect(await idp.container.db.selectFrom('riskLogins').selectAll().where('userId', '=', id).execute()).toEqual([]);
  });

  test('a device cookie recorded at a login makes that device known to the engine', async () => {
    const id = await newUser('cookie-user');
    const at = idp.container.clock.now();
    await idp.container.risk.record({ userId: id, ip: BERLIN, userAgent: CHROME_MAC, deviceToken: 'cookie-2', at });
    const known = await idp.container.risk.assess({ ip: BERLIN, userAgent: CHROME_MAC, userId: id, deviceToken: 'cookie-2', at: at + 60_000 });
    const unknown = await idp.container.risk.assess({ ip: BERLIN, userAgent: CHROME_MAC, userId: id, deviceToken: 'cookie-3', at: at + 60_000 });
    expect(known.signals.find((s) => s.name === 'new_device')).toMatchObject({ score: 0 });
    expect(unknown.signals.find((s) => s.name === 'new_device')).toMatchObject({ score: 1 });
    expect(unknown.score).toBeGreaterThan(known.score);
  });
});

describe('latency', () => {
  test('1000 assessments of a user with history: p50 and p99', async () => {
    const id = await newUser('timed');
    const at = idp.container.clock.now();
    for (let i = 0; i < 20; i++) await idp.container.risk.record({ userId: id, ip: `81.169.145.${i}`, userAgent: CHROME_MAC, at: at - i * 3_600_000 });
    const ms: number[] = [];
    let failed = 0;
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      const r = await idp.container.risk.assess({ ip: BERLIN, userAgent: CHROME_MAC, userId: id, at });
      ms.push(performance.now() - started);
      failed += r.signals.filter((s) => s.evidence.failed).length;
    }
    ms.sort((a, b) => a - b);
    const p = (q: number) => ms[Math.ceil(q * ms.length) - 1]!;
    process.stdout.write(`risk assess() over 1000 calls: p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(2)} ms, max ${ms.at(-1)!.toFixed(2)} ms\n`);
    expect(failed).toBe(0);
    expect(p(0.99)).toBeLessThan(50);
  }, 120_000);
});
