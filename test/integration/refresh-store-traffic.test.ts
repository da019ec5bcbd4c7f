/**
 * What a refresh costs in PostgreSQL round trips, counted on the real server's connections, and
 * that reading ahead changes nothing a client can see: rotation, reuse detection under a burst of
 * replays, and the step-up claim all hold.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { QUIET_SERVER, countStatements } from '../helpers/pg-traffic.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let client: { client_id: string; client_secret: string };
let config: oc.Configuration;

const { counted } = countStatements();

beforeAll(async () => {
  idp = await startTestIdp('refresh-traffic', 'postgres+redis', QUIET_SERVER);
  client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
});
afterAll(() => idp.stop());

const basic = () => `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

async function refresh(refreshToken: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function signIn(withTotp: boolean): Promise<{ refreshToken: string; userId: string }> {
  const user = await newUser(idp.url, withTotp ? 'refresh-mfa' : 'refresh-pwd');
  const secret = withTotp ? await seedTotp(idp.container, user.id) : undefined;
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.status).toBe(200);
  let done = login.body;
  if (secret) {
    expect(done.status).toBe('mfa_required');
    const res = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
    expect(res.status).toBe(200);
    done = res.body;
  }
  const { tokens } = await flow.complete(done.redirect_to);
  expect(tokens.refresh_token).toBeTruthy();
  return { refreshToken: tokens.refresh_token!, userId: user.id };
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

test('a password-only refresh: token, session, grant and account in one statement; consume and successor in a second', async () => {
  let { refreshToken } = await signIn(false);
  ({
    body: { refresh_token: refreshToken },
  } = await refresh(refreshToken)); // connections warm
  const { result, statements: sent } = await counted(() => refresh(refreshToken));
  expect(result.status).toBe(200);
  expect(sent).toHaveLength(2);
});

test('an MFA refresh reads its step-up record with the token, and the tokens still say how the user signed in', async () => {
  const signedIn = await signIn(true);
  const { userId } = signedIn;
  let { refreshToken } = signedIn;
  ({
    body: { refresh_token: refreshToken },
  } = await refresh(refreshToken));
  const { result, statements: sent } = await counted(() => refresh(refreshToken));
  expect(result.status).toBe(200);
  expect(sent.filter((s) => /authn_states/.test(s))).toHaveLength(1);
  // A multi-factor token also asks whether a break-glass grant is active for its user: one indexed read.
  expect(sent.filter((s) => /break_glass_grants/.test(s))).toHaveLength(1);
  expect(sent).toHaveLength(3);
  expect(claimsOf(result.body.id_token)).toMatchObject({ sub: userId, acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
});

test('a refresh token replayed by a burst: one answer gets tokens, the others invalid_grant, and the whole family is revoked', async () => {
  const { refreshToken } = await signIn(false);
  const results = await Promise.all(Array.from({ length: 12 }, () => refresh(refreshToken)));
  const won = results.filter((r) => r.status === 200);
  expect(won).toHaveLength(1);
  for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  // The reuse revoked the grant: the successor the winner got is dead too.
  expect(await refresh(won[0]!.body.refresh_token as string)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
});
