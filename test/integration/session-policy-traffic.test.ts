/**
 * What the session policy costs in PostgreSQL round trips, counted on the real server's connections:
 * an authorization request with a signed-in session reads its record once (with its organisation, in
 * the same statement) and writes "last active" at most once a minute; a refresh reads nothing more.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, newUser } from '../helpers/mfa-flow.js';
import { QUIET_SERVER, countStatements } from '../helpers/pg-traffic.js';
import { discover, oc, registerClient } from '../helpers/rp.js';
import { signInOidc, silent } from '../helpers/sessions.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;
const { counted } = countStatements();

beforeAll(async () => {
  idp = await startTestIdp('session-traffic', 'postgres+redis', { trustedProxies: ['127.0.0.1'], ...QUIET_SERVER }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(() => idp.stop());

const aboutSessions = (statements: string[]) => statements.filter((s) => /session_records/.test(s));

test('an authorization request reads the session record once; "last active" is written at most once a minute', async () => {
  const user = await newUser(idp.url, 'traffic');
  const { browser } = await signInOidc(config, user.username);
  expect(await silent(config, browser)).toBe('code');
  const quiet = await counted(() => silent(config, browser));
  expect(quiet.result).toBe('code');
  expect(aboutSessions(quiet.statements)).toHaveLength(1);
  expect(aboutSessions(quiet.statements)[0]).toMatch(/^select .* from "session_records" as "r" inner join "users"/i);
  clock.advance(61_000);
  const due = await counted(() => silent(config, browser));
  expect(aboutSessions(due.statements)).toHaveLength(2);
  expect(aboutSessions(due.statements)[1]).toMatch(/^update "session_records" set "last_active_at"/i);
});

test('a refresh adds no statement: rotation is decided from the client and the cached settings', async () => {
  const user = await newUser(idp.url, 'traffic-refresh');
  const { tokens } = await signInOidc(config, user.username, { scope: 'openid offline_access' });
  const warm = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  const { result, statements } = await counted(() => oc.refreshTokenGrant(config, warm.refresh_token!));
  expect(result.refresh_token).not.toBe(warm.refresh_token);
  // Read ahead in one statement, then the consume with its successor: as without the session policy.
  expect(statements).toHaveLength(2);
});
