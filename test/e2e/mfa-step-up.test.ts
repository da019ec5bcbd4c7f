/**
 * Step-up and re-authentication inside a valid SSO session: acr_values (aal2, aal3), max_age, and
 * the reauth interval with a controllable clock. The RP is openid-client; TOTP codes come from otplib.
 */
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, PASSWORD, beginAuth, codeAt, newUser, passwordStep, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('mfa-stepup', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  clock.reset();
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
});

/** Password (+ TOTP when the user has it) in a new browser: returns the browser holding the session and the claims. */
async function signIn(user: { username: string; secret?: string }, browser = new Browser(), params?: Record<string, string>) {
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, { browser, params });
  expect(login.status).toBe(200);
  let done = login.body;
  if (done.status === 'mfa_required') {
    const res = await flow.post('mfa/totp', { code: await codeAt(user.secret!, clock.now()) });
    expect(res.status).toBe(200);
    done = res.body;
  }
  expect(done.status).toBe('success');
  return { browser, ...(await flow.complete(done.redirect_to)) };
}

test('discovery lists acr_values_supported aal1, aal2, aal3', async () => {
  expect(config.serverMetadata().acr_values_supported).toEqual(['aal1', 'aal2', 'aal3']);
});

test('a password-only session, then acr_values=aal2: only the second factor is asked; the tokens carry acr aal2 and step_up', async () => {
  const user = await newUser(idp.url, 'su-enrol-later');
  const first = await signIn(user, new Browser());
  expect(first.claims.acr).toBe('aal1');
  // The user enrols after signing in.
  const secret = await seedTotp(idp.container, user.id);

  clock.advance(MINUTE);
  const flow = await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' }, scope: 'openid offline_access' });
  expect(flow.interactionUrl).toBeDefined();
  // The interaction's first step is the challenge; no password step.
  expect((await flow.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  const wrong = await flow.post('mfa/totp', { code: await wrongCode(secret, clock.now()) });
  expect(wrong.status).toBe(401);
  const res = await flow.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const { claims, tokens } = await flow.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(claims.step_up).toBe(true);
  expect(claims.auth_time).toBeGreaterThan(first.claims.auth_time!);

  // Tokens minted later from this authentication say the same.
  expect(tokens.refresh_token).toBeDefined();
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.claims()).toMatchObject({ acr: 'aal2', step_up: true, sub: user.id });

  // The elevated session now satisfies aal2 without asking again.
  const again = await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' } });
  expect(again.interactionUrl).toBeUndefined();
  expect((await again.complete()).claims.acr).toBe('aal2');
});

test("acr_values=aal2 overrides policy 'disabled': a session signed in with the password alone is challenged", async () => {
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled' } });
  const user = await newUser(idp.url, 'su-disabled');
  const secret = await seedTotp(idp.container, user.id);
  const first = await signIn(user);
  expect(first.claims.amr).toEqual(['pwd']);

  const flow = await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' } });
  expect((await flow.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  const res = await flow.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.acr).toBe('aal2');
  expect(claims.step_up).toBe(true);

  // A fresh login asking aal2 gets the challenge right after the password.
  const fresh = await passwordStep(config, user.username, PASSWORD, { params: { acr_values: 'aal2' } });
  expect(fresh.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
});

test('acr_values=aal3 for a user with only TOTP: the relying party gets unmet_authentication_requirements, in a fresh login and in a session', async () => {
  const user = await newUser(idp.url, 'su-aal3');
  const secret = await seedTotp(idp.container, user.id);
  /** Follows the answer's redirect to the relying party's callback and reads the error it carries. */
  const errorAtCallback = async (flow: Awaited<ReturnType<typeof beginAuth>>, answer: { status: number; body: any }) => {
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('aborted');
    const callback = await flow.browser.follow(new URL(answer.body.redirect_to, idp.url), (u) => u.pathname === '/cb');
    return { error: callback.searchParams.get('error'), description: callback.searchParams.get('error_description') };
  };

  const fresh = await passwordStep(config, user.username, PASSWORD, { params: { acr_values: 'aal3' } });
  expect(await errorAtCallback(fresh.flow, fresh.login)).toEqual({
    error: 'unmet_authentication_requirements',
    description: expect.stringMatching(/passkey|security key/),
  });

  const session = await signIn({ ...user, secret });
  expect(session.claims.acr).toBe('aal2');
  const flow = await beginAuth(config, { browser: session.browser, params: { acr_values: 'aal3' } });
  expect(flow.interactionUrl).toBeDefined();
  expect((await errorAtCallback(flow, await flow.details())).error).toBe('unmet_authentication_requirements');
});

test('max_age=1 after 2 s: a fresh login, password (and MFA) asked again', async () => {
  const user = await newUser(idp.url, 'su-maxage');
  const secret = await seedTotp(idp.container, user.id);
  const first = await signIn({ ...user, secret });
  await new Promise((r) => setTimeout(r, 2100));

  const flow = await beginAuth(config, { browser: first.browser, params: { max_age: '1' } });
  expect(flow.interactionUrl).toBeDefined();
  expect((await flow.details()).body.step).toBe('login');
  const login = await flow.post('login', { username: user.username, password: PASSWORD });
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  const res = await flow.post('mfa/totp', { code: await codeAt(secret, clock.now(), 1) });
  expect(res.status).toBe(200);
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.auth_time).toBeGreaterThanOrEqual(first.claims.auth_time! + 2);
  expect(claims.acr).toBe('aal2');
  expect(claims.step_up).toBeUndefined();

  // Control: without max_age the same session passes silently.
  const silent = await beginAuth(config, { browser: first.browser });
  expect(silent.interactionUrl).toBeUndefined();
});

test('reauth_interval_minutes 5: inside a valid session, 6 minutes after the last MFA it is asked again (password not)', async () => {
  await idp.container.settings.patchGlobal({ mfa: { reauth_interval_minutes: 5 } });
  const user = await newUser(idp.url, 'su-reauth');
  const secret = await seedTotp(idp.container, user.id);
  const first = await signIn({ ...user, secret });
  expect(first.claims.acr).toBe('aal2');

  clock.advance(4 * MINUTE);
  const early = await beginAuth(config, { browser: first.browser });
  expect(early.interactionUrl).toBeUndefined();
  await early.complete();

  clock.advance(2 * MINUTE);
  const late = await beginAuth(config, { browser: first.browser });
  expect(late.interactionUrl).toBeDefined();
  expect((await late.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  const res = await late.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
  expect(res.status).toBe(200);
  const { claims } = await late.complete(res.body.redirect_to);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(Math.abs(claims.auth_time! - clock.now() / 1000)).toBeLessThan(10);

  // Fresh again: the next request passes silently.
  const after = await beginAuth(config, { browser: first.browser });
  expect(after.interactionUrl).toBeUndefined();
});

test('reauth_interval_minutes 0: MFA once per session, however much time passes', async () => {
  // Long pauses between uses: the session's idle timeout must not be what ends it here.
  const idle = idp.container.config.session.idleSeconds;
  await idp.container.settings.patchGlobal({ sessions: { idle_timeout: 43_200 } });
  try {
    const user = await newUser(idp.url, 'su-reauth0');
    const secret = await seedTotp(idp.container, user.id);
    const first = await signIn({ ...user, secret });
    for (const minutes of [6, 60, 600]) {
      clock.advance(minutes * MINUTE);
      const flow = await beginAuth(config, { browser: first.browser });
      expect(flow.interactionUrl).toBeUndefined();
      expect((await flow.complete()).claims.acr).toBe('aal2');
    }
  } finally {
    await idp.container.settings.patchGlobal({ sessions: { idle_timeout: idle } });
  }
});

test('an elevation expires with the reauth interval: acr_values=aal2 asks again once the step-up is older', async () => {
  await idp.container.settings.patchGlobal({ mfa: { reauth_interval_minutes: 5, policy: 'disabled' } });
  const user = await newUser(idp.url, 'su-elevation');
  const secret = await seedTotp(idp.container, user.id);
  const first = await signIn(user);
  expect(first.claims.acr).toBe('aal1');

  const up = await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' } });
  expect((await up.details()).body.step).toBe('mfa');
  const res = await up.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
  expect((await up.complete(res.body.redirect_to)).claims.step_up).toBe(true);

  clock.advance(3 * MINUTE);
  expect((await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' } })).interactionUrl).toBeUndefined();
  clock.advance(3 * MINUTE);
  const expired = await beginAuth(config, { browser: first.browser, params: { acr_values: 'aal2' } });
  expect(expired.interactionUrl).toBeDefined();
  expect((await expired.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  // The policy itself (disabled) asks nothing without acr_values.
  expect((await beginAuth(config, { browser: first.browser })).interactionUrl).toBeUndefined();
});

test("two sessions of one user signed in within the same second never share what was proven: one's step-up does not elevate the other", async () => {
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled' } });
  const user = await newUser(idp.url, 'su-same-second');
  const secret = await seedTotp(idp.container, user.id);
  clock.freeze();
  const a = await signIn(user);
  const b = await signIn(user);
  expect(a.claims.acr).toBe('aal1');
  // The clock did not move: both sessions carry the same auth_time.
  expect(b.claims.auth_time).toBe(a.claims.auth_time);

  const up = await beginAuth(config, { browser: b.browser, params: { acr_values: 'aal2' } });
  expect((await up.details()).body.step).toBe('mfa');
  const res = await up.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
  const elevated = (await up.complete(res.body.redirect_to)).claims;
  expect(elevated).toMatchObject({ acr: 'aal2', step_up: true });

  // Session A proved only the password: aal2 still needs the challenge there, and its tokens claim no step-up.
  const other = await beginAuth(config, { browser: a.browser, params: { acr_values: 'aal2' } });
  expect(other.interactionUrl).toBeDefined();
  expect((await other.details()).body.step).toBe('mfa');
  const plain = await beginAuth(config, { browser: a.browser });
  const claims = (await plain.complete()).claims;
  expect(claims.acr).toBe('aal1');
  expect(claims.step_up).toBeUndefined();
});
