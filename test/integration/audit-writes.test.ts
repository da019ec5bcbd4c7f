/**
 * A request's audit events are stored together, in one statement, before its answer goes out:
 * also those of a request that then fails, and a write that fails is the answer, never a lost event.
 */
import pg from 'pg';
import { sql } from 'kysely';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

const inserts: string[] = [];
let counting = false;
const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const originalQuery = proto.query;

beforeAll(async () => {
  proto.query = function countingQuery(this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    if (counting && /insert into "audit_events"/.test(text)) inserts.push(text);
    return originalQuery.apply(this, args);
  };
  idp = await startTestIdp('audit-writes', 'postgres+redis');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  // The second wrong password locks the account: that request records two events, then answers 401.
  await idp.container.settings.patchGlobal({ lockout: { max_failures: 2 } });
});
afterAll(async () => {
  proto.query = originalQuery;
  await idp.stop();
});

const eventsOf = (subject: string) =>
  idp.container.db.selectFrom('auditEvents').select(['type', 'requestId']).where('subject', '=', subject).orderBy('id').execute();

test('a refused login that locks the account stores both its events, in one statement, before the 401', async () => {
  const user = await newUser(idp.url, 'audit-lock');
  const { flow, login } = await passwordStep(config, user.username, 'wrong password');
  expect(login.status).toBe(401);
  inserts.length = 0;
  counting = true;
  const refused = await flow.post('login', { username: user.username, password: 'still wrong' }).finally(() => {
    counting = false;
  });
  expect(refused.status).toBe(401);
  expect(inserts).toHaveLength(1);
  const requestId = refused.res.headers.get('x-request-id');
  const events = (await eventsOf(user.id)).filter((e) => e.requestId === requestId);
  expect(events.map((e) => e.type)).toEqual(['authn.account.locked', 'authn.login.failed']);
});

test('when the audit write fails, the request fails instead of answering as if it were recorded', async () => {
  const user = await newUser(idp.url, 'audit-broken');
  const { flow } = await passwordStep(config, user.username, 'wrong password');
  await sql`alter table audit_events rename to audit_events_away`.execute(idp.container.db);
  try {
    const res = await flow.post('login', { username: user.username, password: PASSWORD });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.body).toMatchObject({ error: expect.any(String) });
  } finally {
    await sql`alter table audit_events_away rename to audit_events`.execute(idp.container.db);
  }
});
