/**
 * Self-service MFA management: the signed-in user's own
 * TOTP, backup codes and trusted devices, through the IdP session cookie or a Bearer access token;
 * freshness (ASVS 5 7.5.1: first factor after a recent sign-in, later changes after a recent MFA),
 * the last factor kept while policy requires MFA, CSRF for cookie writes, and the audit trail.
 */
import { generate } from 'otplib';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, createUser, discover, oc, registerClient, type StepHandler } from '../helpers/rp.js';

/** Real time plus an offset the test moves, shared by the IdP and the test's own TOTP codes. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
const MINUTE = 60_000;
const PASSWORD = 'a long enough password';

let idp: TestIdp;
let firstParty: oc.Configuration;
let thirdParty: oc.Configuration;
let thirdPartyCreds: { client_id: string; client_secret: string };

beforeAll(async () => {
  idp = await startTestIdp('self-service', 'postgres+redis', { mfa: { attemptsPerChallenge: 10, recentAuthSeconds: 300 } }, { clock });
  const fp = await registerClient(idp.url, { first_party: true });
  firstParty = await discover(idp.url, fp.client_id, fp.client_secret);
  thirdPartyCreds = await registerClient(idp.url);
  thirdParty = await discover(idp.url, thirdPartyCreds.client_id, thirdPartyCreds.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(() => {
  clock.offsetMs = 0;
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${idp.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

/** A TOTP code for the IdP's notion of now, away from a step boundary so that one code is one step. */
async function code(secret: string, offsetSteps = 0): Promise<string> {
  const left = 30_000 - (clock.now() % 30_000);
  if (left < 3000) await new Promise((r) => setTimeout(r, left + 200));
  return generate({ secret, epoch: Math.floor(clock.now() / 1000) + offsetSteps * 30 });
}

/**
 * A code the IdP has not seen yet: TOTP refuses a step once used (replay), so each successful use
 * takes the next free step within the ±1 window, waiting for time to move on if needed.
 */
const usedSteps = new Map<string, number>();
async function nextCode(secret: string): Promise<string> {
  for (;;) {
    const current = Math.floor(clock.now() / 30_000);
    const step = Math.max(current, (usedSteps.get(secret) ?? -Infinity) + 1);
    if (step <= current + 1) {
      usedSteps.set(secret, step);
      return generate({ secret, epoch: step * 30 });
    }
    await new Promise((r) => setTimeout(r, 30_000 - (clock.now() % 30_000) + 100));
  }
}

let n = 0;
async function newUser(organization?: string) {
  const username = `self${++n}_${Date.now()}`;
  const user = await createUser(idp.url, {
    external_id: `SS_${username}`,
    username,
    email: `${username}@example.test`,
    password: PASSWORD,
    ...(organization ? { organization } : {}),
  });
  return { ...user, username };
}

/** Signs in through the real interaction: password, then a TOTP code when asked, trusting the device when offered. */
async function signIn(
  username: string,
  opts: { secret?: string; browser?: Browser; trust?: boolean; config?: oc.Configuration; params?: Record<string, string> } = {},
) {
  const steps: StepHandler = async ({ step, interactionUrl, browser }) => {
    const at = (p: string, b: unknown) => browser.json(`${interactionUrl.href}/${p}`, b);
    if (step === 'consent') return (await at('consent', {})).body.redirect_to;
    let r = await at('login', { username, password: PASSWORD });
    if (r.body.status === 'mfa_required') r = await at('mfa/totp', { code: await nextCode(opts.secret!) });
    if (r.body.status === 'trust_device') r = await at('trust-device', { trust: opts.trust ?? false, name: 'My laptop' });
    if (r.body.status !== 'success') throw new Error(`sign-in stopped at ${JSON.stringify(r.body)}`);
    return r.body.redirect_to;
  };
  return authorize(opts.config ?? firstParty, { browser: opts.browser, onStep: steps, params: opts.params });
}

/** A self-service call with the browser's cookies (JSON body unless told otherwise). */
async function call(browser: Browser, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await browser.fetch(`${idp.url}/api/v1${path}`, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, res };
}

const bearer = (token: string, method: string, path: string, body?: unknown) => call(new Browser(), method, path, body, { authorization: `Bearer ${token}` });

const expectError = (r: { status: number; body: any; res: Response }, status: number, error: string) => {
  expect(r.status).toBe(status);
  expect(r.res.headers.get('content-type')).toMatch(/application\/json/);
  expect(r.body).toEqual({ error, error_description: expect.any(String) });
};

const audits = (subject: string, type: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', subject).where('type', '=', type).orderBy('id').execute();

/** Enrols TOTP through the self-service API in a freshly signed-in browser. */
async function enrolViaApi(browser: Browser) {
  const enrol = await call(browser, 'POST', '/mfa/totp/enroll', {});
  expect(enrol.status).toBe(200);
  const { secret } = enrol.body as { secret: string };
  usedSteps.set(secret, Math.floor(clock.now() / 30_000) - 1);
  expect((await call(browser, 'POST', '/mfa/totp/confirm', { code: await code(secret, -1) })).status).toBe(200);
  return secret;
}

describe('authentication', () => {
  test('no session, an API key, a malformed or unknown token → 401 JSON', async () => {
    const anon = new Browser();
    expectError(await call(anon, 'GET', '/me/devices'), 401, 'login_required');
    expectError(await call(anon, 'POST', '/mfa/totp/enroll', {}), 401, 'login_required');
    const withKey = await call(anon, 'GET', '/mfa', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
    expectError(withKey, 401, 'invalid_token');
    expect(withKey.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectError(await call(anon, 'GET', '/mfa', undefined, { authorization: 'Basic abc' }), 401, 'invalid_token');
    expectError(await call(anon, 'GET', '/mfa', undefined, { authorization: `Bearer ${'A'.repeat(43)}` }), 401, 'invalid_token');
    // A forged session cookie is no session.
    expectError(await call(anon, 'GET', '/me', undefined, { cookie: 'idp_session=abc; idp_session.sig=def' }), 401, 'login_required');
  });

  test('the session cookie and a first-party access token both work; a disabled user is signed out of the API', async () => {
    const user = await newUser();
    const { browser, tokens } = await signIn(user.username);
    const me = await call(browser, 'GET', '/me');
    expect(me.status).toBe(200);
    expect(me.res.headers.get('cache-control')).toBe('no-store');
    expect(me.body).toMatchObject({ id: user.id, username: user.username, amr: ['pwd'], authenticated_by: 'cookie', csrf_token: expect.any(String) });
    const viaToken = await bearer(tokens.access_token, 'GET', '/me');
    expect(viaToken.body).toMatchObject({ id: user.id, authenticated_by: 'bearer' });
    expect(viaToken.body.csrf_token).toBeUndefined();
    expect((await bearer(tokens.access_token, 'GET', '/mfa')).body).toEqual({
      methods: [],
      totp: { enrolled: false, pending: false },
      passkeys: { enrolled: false, count: 0 },
      prompt: { enrolled: false, count: 0 },
      backup_codes: { remaining: 0 },
      questions: expect.objectContaining({ set: false, questions: [] }),
    });

    await idp.container.accounts.update(user.id, { status: 'disabled' });
    expectError(await call(browser, 'GET', '/me'), 401, 'login_required');
    expectError(await bearer(tokens.access_token, 'GET', '/me'), 401, 'login_required');
  });

  test('Bearer: third-party tokens are refused; revoked tokens and tokens whose session ended are invalid', async () => {
    const user = await newUser();
    const third = await signIn(user.username, { config: thirdParty });
    expectError(await bearer(third.tokens.access_token, 'GET', '/mfa'), 403, 'insufficient_scope');

    const { tokens } = await signIn(user.username);
    expect((await bearer(tokens.access_token, 'GET', '/mfa')).status).toBe(200);
    await oc.tokenRevocation(firstParty, tokens.access_token);
    expectError(await bearer(tokens.access_token, 'GET', '/mfa'), 401, 'invalid_token');

    const again = await signIn(user.username);
    const provider = idp.container.providers.current;
    const at = await provider.AccessToken.find(again.tokens.access_token);
    await (await provider.Session.findByUid(at!.sessionUid!))!.destroy();
    expectError(await bearer(again.tokens.access_token, 'GET', '/mfa'), 401, 'invalid_token');
  });
});

describe('TOTP enrolment and removal', () => {
  test('first factor after a recent sign-in: enroll → {secret, qr_code_uri, svg, png}, confirm with a first valid code; audited', async () => {
    const user = await newUser();
    const { browser } = await signIn(user.username);
    const enrol = await call(browser, 'POST', '/mfa/totp/enroll', {});
    expect(enrol.status).toBe(200);
    expect(enrol.body).toEqual({
      secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
      qr_code_uri: expect.stringMatching(/^otpauth:\/\/totp\//),
      qr_code_svg: expect.stringContaining('<svg'),
      qr_code_png: expect.stringMatching(/^data:image\/png;base64,/),
    });
    expect(new URL(enrol.body.qr_code_uri).searchParams.get('secret')).toBe(enrol.body.secret);
    expect((await call(browser, 'GET', '/mfa')).body.totp).toEqual({ enrolled: false, pending: true });

    expectError(
      await call(browser, 'POST', '/mfa/totp/confirm', { code: '000000' === (await code(enrol.body.secret)) ? '111111' : '000000' }),
      401,
      'invalid_code',
    );
    for (const hostile of [['123456'], 'x'.repeat(10_000), '１２３４５６', null]) {
      const r = await call(browser, 'POST', '/mfa/totp/confirm', { code: hostile });
      expect([400, 401]).toContain(r.status);
    }
    const ok = await call(browser, 'POST', '/mfa/totp/confirm', { code: await nextCode(enrol.body.secret) });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'success', method: 'totp' });
    expect((await call(browser, 'GET', '/mfa')).body).toEqual({
      methods: ['totp'],
      totp: { enrolled: true, pending: false },
      passkeys: { enrolled: false, count: 0 },
      prompt: { enrolled: false, count: 0 },
      backup_codes: { remaining: 0 },
      questions: expect.objectContaining({ set: false, questions: [] }),
    });
    const [event] = await audits(user.id, 'authn.factor.enrolled');
    expect(event).toMatchObject({ actor: `user:${user.id}`, data: { method: 'totp', via: 'self_service' } });

    // The next sign-in asks for the new factor.
    const next = await signIn(user.username, { secret: enrol.body.secret, params: { prompt: 'login' } });
    expect(next.tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('first factor with a stale sign-in → 403 step_up_required', async () => {
    const user = await newUser();
    const { browser } = await signIn(user.username);
    clock.offsetMs = 6 * MINUTE;
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', {}), 403, 'step_up_required');
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'step_up_required');
    expect((await call(browser, 'GET', '/mfa/backup-codes')).body).toEqual({ remaining: 0 });
  });

  test('with a factor: changes need a recent MFA; POST /mfa/verify (or an MFA sign-in) provides it', async () => {
    const user = await newUser();
    const { browser } = await signIn(user.username);
    const secret = await enrolViaApi(browser);
    // The confirmation itself proved the new factor: backup codes right away.
    const codes = await call(browser, 'POST', '/mfa/backup-codes', {});
    expect(codes.status).toBe(200);

    clock.offsetMs = 10 * MINUTE;
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'step_up_required');
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', {}), 403, 'step_up_required');
    expectError(await call(browser, 'DELETE', '/mfa/totp', undefined, { 'content-type': 'application/json' }), 403, 'step_up_required');
    expectError(await call(browser, 'POST', '/mfa/verify', { code: '000000' === (await code(secret)) ? '111111' : '000000' }), 401, 'invalid_code');
    const verified = await call(browser, 'POST', '/mfa/verify', { code: await nextCode(secret) });
    expect(verified.body).toEqual({ status: 'success', method: 'totp' });
    expect(await audits(user.id, 'authn.step_up.completed')).toHaveLength(1);
    expect((await call(browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);

    // A fresh sign-in with TOTP is fresh MFA too.
    const mfaLogin = await signIn(user.username, { secret, params: { prompt: 'login' } });
    expect((await call(mfaLogin.browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);
    expect((await bearer(mfaLogin.tokens.access_token, 'DELETE', '/mfa/totp')).status).toBe(204);
    expect((await call(mfaLogin.browser, 'GET', '/mfa')).body.totp).toEqual({ enrolled: false, pending: false });
    const [removed] = await audits(user.id, 'authn.factor.removed');
    expect(removed).toMatchObject({ actor: `user:${user.id}`, data: { method: 'totp', via: 'self_service' } });
    expectError(await call(mfaLogin.browser, 'DELETE', '/mfa/totp', undefined, { 'content-type': 'application/json' }), 404, 'not_found');
  });

  test('the last factor stays while the policy requires MFA (409); methods the policy does not allow are refused', async () => {
    await admin('POST', '/organizations', { slug: 'ss-strict' });
    const user = await newUser('ss-strict');
    const { browser } = await signIn(user.username);
    const secret = await enrolViaApi(browser);
    expect((await call(browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);

    await admin('PATCH', '/organizations/ss-strict/settings', { mfa: { enforce_enrollment: true } });
    // Backup codes are recovery: they do not count as the factor that remains.
    expectError(await call(browser, 'DELETE', '/mfa/totp', undefined, { 'content-type': 'application/json' }), 409, 'factor_required');
    await admin('PATCH', '/organizations/ss-strict/settings', { mfa: { enforce_enrollment: false, required_for_roles: ['staff'] } });
    await idp.container.accounts.update(user.id, { roles: ['staff'] });
    expectError(await call(browser, 'DELETE', '/mfa/totp', undefined, { 'content-type': 'application/json' }), 409, 'factor_required');
    expect((await call(browser, 'GET', '/mfa')).body.totp.enrolled).toBe(true);

    await admin('PATCH', '/organizations/ss-strict/settings', { mfa: { allowed_methods: ['totp'] } });
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'method_not_allowed');
    // A role's layer narrows the methods in self-service as it does in a login.
    await admin('PATCH', '/organizations/ss-strict/settings', {
      mfa: { allowed_methods: ['totp', 'backup_code'] },
      roles: { staff: { mfa: { allowed_methods: ['totp'] } } },
    });
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'method_not_allowed');
    await admin('PATCH', '/organizations/ss-strict/settings', { roles: { staff: null } });
    expect((await call(browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);

    await idp.container.accounts.update(user.id, { roles: [] });
    expect((await call(browser, 'DELETE', '/mfa/totp', undefined, { 'content-type': 'application/json' })).status).toBe(204);
    expect(secret).toBeTruthy();
  });
});

describe('step-up codes', () => {
  test('POST /mfa/verify: malformed → 400, wrong → 401, counted toward the MFA lock, rate-limited per user (429)', async () => {
    const user = await newUser();
    const { browser } = await signIn(user.username);
    const secret = await enrolViaApi(browser);
    expectError(await call(browser, 'POST', '/mfa/verify', {}), 400, 'invalid_request');
    expectError(await call(browser, 'POST', '/mfa/verify', { code: ['123456'] }), 400, 'invalid_request');
    const wrong = generate({ secret, epoch: Math.floor(clock.now() / 1000) + 3600 });
    for (let i = 0; i < 8; i++) expectError(await call(browser, 'POST', '/mfa/verify', { code: await wrong }), 401, 'invalid_code');
    expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(9);
    expectError(await call(browser, 'POST', '/mfa/verify', { code: await nextCode(secret) }), 429, 'too_many_requests');
  });

  test('a step-up with a backup code is recorded as what it was: the stored proof and the audit name the backup code', async () => {
    const user = await newUser();
    const { browser, tokens } = await signIn(user.username);
    await enrolViaApi(browser);
    const { backup_codes: codes } = (await call(browser, 'POST', '/mfa/backup-codes', {})).body as { backup_codes: string[] };

    clock.offsetMs = 10 * MINUTE;
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'step_up_required');
    const at = clock.now();
    expect((await call(browser, 'POST', '/mfa/verify', { code: codes[0] })).body).toEqual({ status: 'success', method: 'backup_code' });
    const [stepUp] = await audits(user.id, 'authn.step_up.completed');
    expect(stepUp!.data).toMatchObject({ for: 'factor_management', method: 'backup_code' });

    const { sessionUid } = (await idp.container.providers.current.AccessToken.find(tokens.access_token))!;
    const stored = JSON.parse((await idp.container.ephemeral.get(`mfa-proof:${sessionUid!}`))!) as unknown;
    expect(stored).toEqual(expect.objectContaining({ factor: 'backup_code', secondFactor: true, phishingResistant: false, at: expect.any(Number) }));
    expect((stored as { at: number }).at).toBeGreaterThanOrEqual(at);
    // The backup code is a second factor in its own right: factor changes are allowed again.
    expect((await call(browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);
  });

  test('an MFA sign-in whose stored record is gone proves only the sign-in: its amr alone is no second factor', async () => {
    const user = await newUser();
    const first = await signIn(user.username);
    const secret = await enrolViaApi(first.browser);
    const { browser } = await signIn(user.username, { secret, params: { prompt: 'login' } });
    expect((await call(browser, 'GET', '/me')).body.amr).toContain('mfa');
    await idp.container.db.deleteFrom('authnStates').where('accountId', '=', user.id).execute();
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'step_up_required');
  });
});

describe('CSRF for cookie sessions', () => {
  test('form posts and other simple requests without the token → 403; the X-CSRF-Token from /me or JSON passes', async () => {
    const user = await newUser();
    const { browser, tokens } = await signIn(user.username);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', 'x=1', form), 403, 'invalid_csrf_token');
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', 'x=1', { 'content-type': 'text/plain' }), 403, 'invalid_csrf_token');
    expectError(await call(browser, 'POST', '/mfa/totp/enroll'), 403, 'invalid_csrf_token');
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', 'csrf=forged', form), 403, 'invalid_csrf_token');
    expectError(await call(browser, 'DELETE', '/me/devices/00000000-0000-4000-8000-000000000000'), 403, 'invalid_csrf_token');
    expect((await call(browser, 'GET', '/mfa')).body.totp.pending).toBe(false);

    const csrf = (await call(browser, 'GET', '/me')).body.csrf_token as string;
    expect((await call(browser, 'POST', '/mfa/totp/enroll', 'x=1', { ...form, 'x-csrf-token': csrf })).status).toBe(200);
    expect((await call(browser, 'POST', '/mfa/totp/enroll', `csrf=${encodeURIComponent(csrf)}`, form)).status).toBe(200);
    expectError(await call(browser, 'DELETE', '/me/devices/00000000-0000-4000-8000-000000000000', undefined, { 'x-csrf-token': csrf }), 404, 'not_found');
    // Another session's token is worthless here.
    const other = await signIn(user.username);
    const otherCsrf = (await call(other.browser, 'GET', '/me')).body.csrf_token as string;
    expect(otherCsrf).not.toBe(csrf);
    expectError(await call(browser, 'POST', '/mfa/totp/enroll', 'x=1', { ...form, 'x-csrf-token': otherCsrf }), 403, 'invalid_csrf_token');
    // Bearer requests carry no ambient credential: no CSRF token needed.
    expect((await call(new Browser(), 'POST', '/mfa/totp/enroll', undefined, { authorization: `Bearer ${tokens.access_token}` })).status).toBe(200);
  });
});

describe('trusted devices', () => {
  test('list (current marked), revoke own devices only; factor changes revoke all; a trusted-device sign-in is no MFA', async () => {
    await admin('POST', '/organizations', { slug: 'ss-trust' });
    await admin('PATCH', '/organizations/ss-trust/settings', { mfa: { trusted_device_duration_days: 30 } });
    const user = await newUser('ss-trust');
    const first = await signIn(user.username);
    const secret = await enrolViaApi(first.browser);

    const browser = new Browser();
    await signIn(user.username, { browser, secret, trust: true });
    const { device: other } = await idp.container.devices.issue(user.id, 30, { name: 'Old phone', ip: '198.51.100.7', userAgent: 'Safari' });
    const listed = await call(browser, 'GET', '/me/devices');
    expect(listed.status).toBe(200);
    expect(listed.body.devices).toHaveLength(2);
    const current = listed.body.devices.find((d: any) => d.current);
    expect(current).toMatchObject({ name: 'My laptop', current: true, expires_at: expect.any(String) });
    expect(listed.body.devices.find((d: any) => d.id === other.id)).toMatchObject({ name: 'Old phone', ip: '198.51.100.7', current: false });

    // Another user's device cannot be revoked from here.
    const stranger = await newUser('ss-trust');
    const { device: theirs } = await idp.container.devices.issue(stranger.id, 30, { ip: '192.0.2.1' });
    expectError(await call(browser, 'DELETE', `/me/devices/${theirs.id}`, undefined, { 'content-type': 'application/json' }), 404, 'not_found');
    expectError(await call(browser, 'DELETE', '/me/devices/not-a-uuid', undefined, { 'content-type': 'application/json' }), 404, 'not_found');
    expect((await call(browser, 'DELETE', `/me/devices/${other.id}`, undefined, { 'content-type': 'application/json' })).status).toBe(204);
    expectError(await call(browser, 'DELETE', `/me/devices/${other.id}`, undefined, { 'content-type': 'application/json' }), 404, 'not_found');
    const [revoked] = await audits(user.id, 'authn.device.revoked');
    expect(revoked).toMatchObject({ actor: `user:${user.id}`, data: { device_id: other.id } });

    // Signing in again from the trusted browser skips MFA, which is therefore not fresh MFA.
    const trusted = await signIn(user.username, { browser, params: { prompt: 'login' } });
    expect(trusted.tokens.claims()!.amr).toEqual(['pwd']);
    expectError(await call(browser, 'POST', '/mfa/backup-codes', {}), 403, 'step_up_required');

    // Verifying a code is; and the factor change it allows ends every trusted device.
    expect((await call(browser, 'POST', '/mfa/verify', { code: await nextCode(secret) })).status).toBe(200);
    expect((await call(browser, 'POST', '/mfa/backup-codes', {})).status).toBe(200);
    expect((await call(browser, 'GET', '/me/devices')).body.devices).toEqual([]);
  });
});
