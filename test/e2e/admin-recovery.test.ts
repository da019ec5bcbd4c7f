/**
 * A user is never locked out for good: an administrator resets their factors and issues a
 * temporary password, which signs in only into a change of password, after which the policy's
 * enrolment and the login go on as usual. Disabling or deleting a user ends their sessions, their
 * refresh tokens and their relying parties' sessions (OpenID Connect Back-Channel Logout 1.0).
 */
import { apiClient } from '../helpers/api.js';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, issueBackupCodes } from '../helpers/mfa.js';
import { DAY, FakeClock, MINUTE, PASSWORD, codeAt, newUser, passwordStep, type Flow, pageAfterPost } from '../helpers/mfa-flow.js';
import { authorize, discover, oc, registerClient, type StepHandler } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let clientId: string;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
const clock = new FakeClock();
const api = apiClient(() => idp.url);

beforeAll(async () => {
  idp = await startTestIdp('admin-recovery', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  rp = await startLogoutReceiver();
  const client = await registerClient(idp.url, { first_party: true, backchannel_logout_uri: `${rp.url}/bcl`, backchannel_logout_session_required: true });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
});
afterAll(async () => {
  await rp.close();
  await idp.stop();
});
beforeEach(() => {
  clock.reset();
  rp.received.length = 0;
});

/**
 * Answers every step a recovering user meets: password (or the temporary one), the new password,
 * TOTP enrolment or challenge with `totp.secret` (enrolment fills it in), consent. A step answered
 * without a redirect sends the relying party's browser back to the interaction.
 */
function userSteps(password: string, opts: { username: string; newPassword?: string; totp: { secret?: string } }): StepHandler {
  return async ({ step, interactionUrl, browser }) => {
    const post = (path: string, body: unknown = {}) => browser.json(`${interactionUrl.href}/${path}`, body);
    let res;
    if (step === 'login') res = await post('login', { username: opts.username, password });
    else if (step === 'password_change') res = await post('password', { new_password: opts.newPassword });
    else if (step === 'enroll') {
      opts.totp.secret = (await post('enroll/totp')).body.secret as string;
      res = await post('enroll/totp/confirm', { code: await codeAt(opts.totp.secret, clock.now()) });
    } else if (step === 'mfa') res = await post('mfa/totp', { code: await codeAt(opts.totp.secret!, clock.now()) });
    else if (step === 'consent') res = await post('consent');
    else throw new Error(`unexpected step ${step}`);
    if (res.status !== 200) throw new Error(`${step}: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body.redirect_to as string | undefined) ?? interactionUrl.href;
  };
}

/** A user with TOTP, signed in with offline access (a refresh token that outlives the session). */
async function signedInWithTotp(label: string) {
  const user = await newUser(idp.url, label);
  const totp = { secret: await enrolTotp(idp.container, user.id) };
  // The enrolment helper used the previous step's code; the login uses the next one.
  clock.advance(30_000);
  const session = await authorize(config, {
    onStep: userSteps(PASSWORD, { username: user.username, totp }),
    params: { prompt: 'consent' },
    scope: 'openid offline_access',
  });
  expect(session.tokens.refresh_token).toEqual(expect.any(String));
  return { user, session };
}

const me = async (browser: Browser) => (await browser.json(`${idp.url}/api/v1/me`)).status;
const auditTypes = async (subject: string) =>
  (await idp.container.db.selectFrom('auditEvents').select('type').where('subject', '=', subject).orderBy('id').execute()).map((e) => e.type);

/** The session's tokens are dead and its relying party was told (one signed logout token for the user). */
async function expectSignedOut(userId: string, session: Awaited<ReturnType<typeof signedInWithTotp>>['session']) {
  await expect(oc.refreshTokenGrant(config, session.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(await me(session.browser)).toBe(401);
  const userinfo = await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${session.tokens.access_token}` } });
  expect(userinfo.status).toBe(401);
  const [delivery] = await rp.waitFor(1);
  expect(delivery?.path).toBe('/bcl');
  const { payload } = await verifyLogoutToken(idp.url, clientId, delivery!.logoutToken);
  expect(payload.sub).toBe(userId);
}

async function temporaryPassword(userId: string): Promise<string> {
  const r = await api('POST', `/users/${userId}/temporary-password`);
  expect(r.status).toBe(201);
  return r.body.temporary_password as string;
}

/** A login with the temporary password, stopped at the password change. */
async function atPasswordChange(username: string, temporary: string): Promise<Flow> {
  const { flow, login } = await passwordStep(config, username, temporary);
  expect(login.status).toBe(200);
  expect(login.body).toEqual({ status: 'password_change_required' });
  return flow;
}

test('a user who lost their only factor gets back in: factor reset + temporary password → new password → new factor enrolled → tokens', async () => {
  const { user, session } = await signedInWithTotp('lost-totp');
  expect((await api('POST', `/users/${user.id}/factors/reset`)).body.removed).toEqual(['totp']);
  await expectSignedOut(user.id, session);
  const temporary = await temporaryPassword(user.id);
  // The old password is gone with the reset of the password.
  const old = await passwordStep(config, user.username, PASSWORD);
  expect(old.login.status).toBe(401);

  const totp: { secret?: string } = {};
  const { tokens } = await authorize(config, { onStep: userSteps(temporary, { username: user.username, newPassword: 'my own new password', totp }) });
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(user.id);
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(await idp.container.factors.enrolledMethods(user.id)).toEqual(['totp']);
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ passwordTemporaryUntil: null });

  // From now on: the new password and the new factor; the temporary password no longer signs in.
  expect((await passwordStep(config, user.username, temporary)).login.status).toBe(401);
  const next = await passwordStep(config, user.username, 'my own new password');
  expect(next.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  expect(await auditTypes(user.id)).toEqual(
    expect.arrayContaining(['admin.user.factors_reset', 'admin.user.temporary_password_issued', 'authn.password.changed', 'authn.factor.enrolled']),
  );
  const changes = (await idp.container.metrics.passwordChanges.get()).values.find((v) => v.labels.reason === 'temporary_password')?.value;
  expect(changes).toBeGreaterThanOrEqual(1);
});

test('the password change cannot be skipped: every other step, consent and the first step again are refused', async () => {
  const user = await newUser(idp.url, 'no-skip');
  const temporary = await temporaryPassword(user.id);
  const flow = await atPasswordChange(user.username, temporary);
  expect((await flow.details()).body).toMatchObject({ step: 'password_change' });
  for (const [path, body] of [
    ['mfa/totp', { code: '123456' }],
    ['mfa/backup-code', { code: 'abcd-efgh' }],
    ['enroll/totp', {}],
    ['enroll/totp/confirm', { code: '123456' }],
    ['trust-device', { trust: true }],
    ['consent', {}],
    ['login', { username: user.username, password: temporary }],
    ['reauth', { password: temporary }],
    ['passkey/begin', {}],
  ] as const) {
    const r = await flow.post(path, body);
    expect([400, 404]).toContain(r.status);
    expect(r.body.error).toEqual(expect.any(String));
  }
  // The authorization endpoint sends the browser back to the interaction: no code is issued.
  const resumed = await flow.browser.follow(flow.interactionUrl!, (u) => u.href.startsWith('http://127.0.0.1:9/cb'));
  expect(resumed.pathname).toMatch(/^\/interaction\//);
  expect((await flow.details()).body).toMatchObject({ step: 'password_change' });

  // The new password is the user's own, not the temporary one again, and long enough.
  for (const new_password of [temporary, 'short', '']) expect((await flow.post('password', { new_password })).status).toBe(400);
  expect((await flow.post('password', { new_password: 'a fine new password', confirm_password: 'another one' })).status).toBe(400);
  expect((await flow.post('password', { new_password: 'a fine new password', password_hash: 'x' })).status).toBe(200);
  // Replayed: the step is over.
  expect((await flow.post('password', { new_password: 'yet another password' })).status).toBe(400);
  expect((await passwordStep(config, user.username, 'a fine new password')).login.body).toEqual({
    status: 'mfa_enrollment_required',
    allowed_methods: ['totp', 'passkey'],
  });
  expect((await passwordStep(config, user.username, 'yet another password')).login.status).toBe(401);
});

test('concurrent changes in one login, and in two logins with the same temporary password: exactly one change', async () => {
  const user = await newUser(idp.url, 'race');
  const temporary = await temporaryPassword(user.id);
  const one = await atPasswordChange(user.username, temporary);
  const two = await atPasswordChange(user.username, temporary);
  const candidates = ['race winner one 1', 'race winner two 2', 'race winner three 3', 'race winner four 4'];
  const results = await Promise.all([
    one.post('password', { new_password: candidates[0] }),
    one.post('password', { new_password: candidates[1] }),
    two.post('password', { new_password: candidates[2] }),
    two.post('password', { new_password: candidates[3] }),
  ]);
  expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
  const winner = candidates[results.findIndex((r) => r.status === 200)]!;
  for (const candidate of candidates) {
    expect((await passwordStep(config, user.username, candidate)).login.status).toBe(candidate === winner ? 200 : 401);
  }
  const changed = await idp.container.db
    .selectFrom('auditEvents')
    .select('id')
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.password.changed')
    .execute();
  expect(changed).toHaveLength(1);
});

test('the temporary password expires: after it, the same 401 as a wrong password; a change started before expiry is refused after it', async () => {
  const user = await newUser(idp.url, 'expiry');
  clock.freeze();
  const temporary = await temporaryPassword(user.id);
  clock.advance(DAY - MINUTE);
  const flow = await atPasswordChange(user.username, temporary);
  clock.advance(2 * MINUTE);
  const late = await flow.post('password', { new_password: 'too late a password' });
  expect(late.status).toBe(400);
  expect(late.body.error).toBe('invalid_step');
  // That login is over: it starts from the password again.
  expect((await flow.details()).body).toMatchObject({ step: 'login' });

  const expired = await passwordStep(config, user.username, temporary);
  const wrong = await passwordStep(config, user.username, 'not the password at all');
  expect(expired.login.status).toBe(401);
  expect(expired.login.body).toEqual(wrong.login.body);
  expect(expired.login.body.error).toBe('invalid_credentials');
  expect((await idp.container.accounts.findById(user.id))?.passwordHash).toMatch(/^\$argon2id\$/);
  // The administrator can always issue a new one.
  await atPasswordChange(user.username, await temporaryPassword(user.id));
});

test("issuing a temporary password ends the user's sessions and unlocks a password lockout", async () => {
  const { user, session } = await signedInWithTotp('temp-ends');
  await idp.container.accounts.update(user.id, { failedAttempts: 99, lockedUntil: new Date(clock.now() + DAY) });
  const temporary = await temporaryPassword(user.id);
  await expectSignedOut(user.id, session);
  await atPasswordChange(user.username, temporary);
});

test('the HTML page: a form with a CSRF token; without it 403; a mismatched confirmation shows the form again; then the enrolment page follows', async () => {
  const user = await newUser(idp.url, 'html');
  const temporary = await temporaryPassword(user.id);
  const flow = await atPasswordChange(user.username, temporary);
  const page = await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } });
  const html = await page.text();
  expect(html).toContain(`action="${flow.interactionUrl!.pathname}/password"`);
  const csrf = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)?.[1];
  expect(csrf).toBeDefined();
  const submit = (form: Record<string, string>) =>
    flow.browser.fetch(`${flow.interactionUrl!.href}/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(form),
    });
  const shown = (posted: Response) => pageAfterPost(flow, posted);
  expect((await submit({ new_password: 'html new password', confirm_password: 'html new password' })).status).toBe(403);
  const mismatch = await shown(await submit({ csrf: csrf!, new_password: 'html new password', confirm_password: 'html other password' }));
  expect(mismatch).toContain('The two passwords do not match.');
  expect(mismatch).toMatch(/id="confirm_password"[^>]*aria-invalid="true"/);
  const done = await shown(await submit({ csrf: csrf!, new_password: 'html new password', confirm_password: 'html new password' }));
  // The policy enforces enrolment: the enrolment page follows.
  expect(done).toContain(`/interaction/${flow.interactionUrl!.pathname.split('/')[2]}/enroll/totp/confirm`);
});

test('disable: sessions end (back-channel logout), refresh and sign-in refused; enable: sign-in works again, old refresh tokens stay dead', async () => {
  const { user, session } = await signedInWithTotp('disabled');
  expect((await api('PATCH', `/users/${user.id}`, { user: { status: 'disabled' } })).status).toBe(200);
  await expectSignedOut(user.id, session);
  const refused = await passwordStep(config, user.username, PASSWORD);
  expect(refused.login.status).toBe(401);
  expect(refused.login.body.error).toBe('invalid_credentials');

  expect((await api('PATCH', `/users/${user.id}`, { user: { status: 'active' } })).status).toBe(200);
  expect((await passwordStep(config, user.username, PASSWORD)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  await expect(oc.refreshTokenGrant(config, session.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('a refresh token of a disabled user is refused even when no session or grant was ended (the account check)', async () => {
  const { user, session } = await signedInWithTotp('disabled-row');
  // Disabled behind the API's back: only the token endpoint's own account check stands in the way.
  await idp.container.accounts.update(user.id, { status: 'disabled' });
  await expect(oc.refreshTokenGrant(config, session.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('delete: sessions end with back-channel logout, refresh tokens are refused, the user cannot sign in', async () => {
  const { user, session } = await signedInWithTotp('deleted');
  expect((await api('DELETE', `/users/${user.id}`)).status).toBe(204);
  await expectSignedOut(user.id, session);
  expect((await passwordStep(config, user.username, PASSWORD)).login.status).toBe(401);
  expect(await auditTypes(user.id)).toContain('admin.user.deleted');
});

test('backup codes: a user who lost TOTP signs in with a backup code; once the admin resets TOTP alone, the codes still sign in', async () => {
  const user = await newUser(idp.url, 'backup');
  await enrolTotp(idp.container, user.id);
  const [first, second] = await issueBackupCodes(idp.container, user.id);
  const signIn = async (code: string) => {
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.methods).toContain('backup_code');
    const r = await flow.post('mfa/backup-code', { code });
    expect(r.status).toBe(200);
    return flow.complete(r.body.redirect_to);
  };
  expect((await signIn(first!)).claims.sub).toBe(user.id);
  expect((await api('POST', `/users/${user.id}/factors/reset`, { method: 'totp' })).body.removed).toEqual(['totp']);
  const { claims } = await signIn(second!);
  expect(claims.sub).toBe(user.id);
  expect(claims.amr).toContain('mfa');
});
