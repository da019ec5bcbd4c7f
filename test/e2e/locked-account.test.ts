/**
 * An account an administrator locks (status `locked`) is treated like a disabled one at every
 * door that issues tokens: its SSO session no longer signs in silently or gets stepped up, its
 * refresh tokens, access tokens and introspection stop working, a login in progress goes no
 * further, and the platform API's code check refuses it. Only client_credentials, which has no
 * user, is unaffected. A temporary lock after failed password guesses is different: it stops new
 * password checks but signs no one out, or anyone could sign a user out by guessing wrong.
 */
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { PASSWORD, beginAuth, codeAt, newUser, passwordStep, seedTotp, type Flow } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
const SCOPE = 'openid offline_access email profile';

beforeAll(async () => {
  idp = await startTestIdp('locked-account', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(
  () => idp.url,
  () => ADMIN_KEY,
);
const lock = (id: string) => idp.container.accounts.update(id, { status: 'locked' });
const userinfoStatus = async (accessToken: string) => (await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

/** A password-only sign-in up to the tokens; the flow's browser keeps the SSO session. */
async function signIn(username: string) {
  const { flow, login } = await passwordStep(config, username, PASSWORD, { scope: SCOPE });
  expect(login.body.status).toBe('success');
  return { browser: flow.browser, ...(await flow.complete(login.body.redirect_to)) };
}

/** A new authorization request in the signed-in browser: where it lands. */
const again = async (browser: Flow['browser'], params: Record<string, string> = {}) => (await beginAuth(config, { browser, params })).landed;

test('an administrator locks a signed-in user: no silent code, a fresh login instead; refresh, userinfo and introspection stop', async () => {
  const user = await newUser(idp.url, 'admin-locked');
  const { browser, tokens } = await signIn(user.username);
  expect((await again(browser, { prompt: 'none' })).searchParams.get('code')).toBeTruthy();

  await lock(user.id);

  const silent = await again(browser, { prompt: 'none' });
  expect(silent.searchParams.get('code')).toBeNull();
  expect(silent.searchParams.get('error')).toBe('login_required');
  // Without prompt=none the browser is sent to a login, not through.
  const interactive = await beginAuth(config, { browser });
  expect(interactive.interactionUrl).toBeDefined();
  expect((await interactive.details()).body.step).toBe('login');
  // The password does not open it either.
  const retry = await interactive.post('login', { username: user.username, password: PASSWORD });
  expectJsonError(retry, 401, 'invalid_credentials');

  await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(await userinfoStatus(tokens.access_token)).toBe(401);
  expect((await oc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
});

test('a locked user asking for a step-up (acr_values=aal2) gets a fresh login, not a second-factor challenge or a code', async () => {
  const user = await newUser(idp.url, 'locked-step-up');
  const secret = await seedTotp(idp.container, user.id);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  const done = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
  expect(done.body.status).toBe('success');
  await flow.complete(done.body.redirect_to);

  await lock(user.id);

  const silent = await again(flow.browser, { prompt: 'none', acr_values: 'aal2' });
  expect(silent.searchParams.get('code')).toBeNull();
  expect(silent.searchParams.get('error')).toBe('login_required');
  const stepUp = await beginAuth(config, { browser: flow.browser, params: { acr_values: 'aal2' } });
  expect((await stepUp.details()).body.step).toBe('login');
});

test('a login in progress goes no further once the account is locked: the right code at the challenge is refused', async () => {
  const user = await newUser(idp.url, 'locked-mid-login');
  const secret = await seedTotp(idp.container, user.id);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');

  await lock(user.id);

  const res = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
  expectJsonError(res, 400, 'invalid_request');
  const events = await idp.container.db
    .selectFrom('auditEvents')
    .select('type')
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.mfa.verified')
    .execute();
  expect(events).toHaveLength(0);
});

test('platform API: POST /otp/verify refuses a locked account (403 account_locked) without checking the code', async () => {
  const user = await newUser(idp.url, 'locked-platform');
  const secret = await seedTotp(idp.container, user.id);
  await lock(user.id);

  expectJsonError(await api('POST', '/otp/verify', { otp: { id: `ext-${user.username}`, code: await codeAt(secret, Date.now()) } }), 403, 'account_locked');
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(0);
});

test('a temporary lock after wrong passwords signs no one out: the session, refresh and userinfo keep working', async () => {
  const user = await newUser(idp.url, 'guessed-at');
  const { browser, tokens } = await signIn(user.username);

  const max = (await idp.container.settings.effective()).lockout.max_failures;
  const guesses = await beginAuth(config);
  for (let i = 0; i < max; i++) expectJsonError(await guesses.post('login', { username: user.username, password: `guess-${i}` }), 401, 'invalid_credentials');
  expect((await idp.container.accounts.findById(user.id))!.lockedUntil!.getTime()).toBeGreaterThan(Date.now());

  expect((await again(browser, { prompt: 'none' })).searchParams.get('code')).toBeTruthy();
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).toBeTruthy();
  expect(await userinfoStatus(refreshed.access_token)).toBe(200);
});

test('client_credentials has no user and is unaffected by any account lock', async () => {
  const user = await newUser(idp.url, 'locked-cc');
  await lock(user.id);
  const grant = await oc.clientCredentialsGrant(config, { scope: 'api' });
  expect(grant.access_token).toBeTruthy();
});
