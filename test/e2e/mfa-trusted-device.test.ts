/**
 * "Trust this device": the trust_device step, the idp_device cookie, skipping MFA for
 * the same user only, server-side expiry (controllable clock) and revocation, and that a trusted
 * device never satisfies a step-up.
 */
import { sha256 } from '../../src/lib/crypto.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { DAY, FakeClock, MINUTE, PASSWORD, beginAuth, codeAt, newUser, passwordStep, plantCookie, seedTotp } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('mfa-device', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { trusted_device_duration_days: 30 } });
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(() => clock.reset());

async function totpUser(label: string) {
  const user = await newUser(idp.url, label);
  return { ...user, secret: await seedTotp(idp.container, user.id) };
}

/** Password + TOTP, then the trust_device step answered with `trust`. */
async function loginAndTrust(user: { username: string; secret: string }, trust = true, browser = new Browser()) {
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, { browser });
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  const mfa = await flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
  expect(mfa.status).toBe(200);
  expect(mfa.body).toEqual({ status: 'trust_device' });
  expect((await flow.details()).body.step).toBe('trust_device');
  const res = await flow.post('trust-device', trust ? { trust: true, name: 'Work laptop' } : { trust: false });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const setCookie = res.res.headers.getSetCookie().find((c) => c.startsWith('idp_device='));
  // The token travels in the httpOnly cookie only, never in the body.
  expect(res.body).toEqual({ status: 'success', redirect_to: expect.any(String) });
  const { claims } = await flow.complete(res.body.redirect_to);
  return { flow, res, setCookie, claims, token: setCookie?.split(';')[0]!.slice('idp_device='.length) };
}

/** A login in a new browser that carries only the device cookie: the answer to the password. */
async function loginWithDevice(username: string, token: string, params?: Record<string, string>) {
  const browser = new Browser();
  const flow = await beginAuth(config, { browser, params });
  plantCookie(browser, 'idp_device', token);
  const login = await flow.post('login', { username, password: PASSWORD });
  return { browser, flow, login };
}

test('after MFA the step is trust_device; trusting sets idp_device (httpOnly, SameSite=Strict, not Secure on http://localhost), stored hashed', async () => {
  const user = await totpUser('dev-cookie');
  const { setCookie, token, claims } = await loginAndTrust(user);
  expect(claims.acr).toBe('aal2');
  expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  expect(setCookie).toBeDefined();
  const attrs = setCookie!.split(';').map((s) => s.trim().toLowerCase());
  expect(setCookie!.split(';')[0]).toBe(`idp_device=${token}`);
  expect(attrs).toContain('httponly');
  expect(attrs).toContain('samesite=strict');
  expect(attrs).toContain('path=/');
  expect(attrs).not.toContain('secure');
  const expires = attrs.find((a) => a.startsWith('expires='));
  expect(Math.abs(Date.parse(expires!.slice(8)) - (Date.now() + 30 * DAY))).toBeLessThan(MINUTE);

  const rows = await idp.container.db.selectFrom('trustedDevices').selectAll().where('userId', '=', user.id).execute();
  expect(rows).toHaveLength(1);
  expect(rows[0]!.tokenHash).toBe(sha256(token!));
  expect(JSON.stringify(rows)).not.toContain(token);
  expect(rows[0]!.name).toBe('Work laptop');
  expect(Math.abs(rows[0]!.expiresAt.getTime() - (clock.now() + 30 * DAY))).toBeLessThan(MINUTE);
});

test('declining trust finishes the login without a cookie or a device', async () => {
  const user = await totpUser('dev-decline');
  const { setCookie, token, claims } = await loginAndTrust(user, false);
  expect(claims.acr).toBe('aal2');
  expect(setCookie).toBeUndefined();
  expect(token).toBeUndefined();
  expect(await idp.container.devices.list(user.id)).toEqual([]);
});

test('a login finished at the trust_device step records why it was satisfied, whichever the answer', async () => {
  for (const trust of [true, false]) {
    const user = await totpUser(`dev-why-${trust}`);
    await loginAndTrust(user, trust);
    const event = await idp.container.db
      .selectFrom('auditEvents')
      .selectAll()
      .where('type', '=', 'authn.login.succeeded')
      .where('subject', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(event.data).toMatchObject({
      reasons: expect.arrayContaining(['policy']),
      sources: expect.arrayContaining([expect.objectContaining({ key: 'policy' })]),
    });
  }
});

test('the same user in a new browser session with the device cookie skips MFA; another user, a forged token or no password do not', async () => {
  const alice = await totpUser('dev-alice');
  const bob = await totpUser('dev-bob');
  const { token } = await loginAndTrust(alice);

  const same = await loginWithDevice(alice.username, token!);
  expect(same.login.status).toBe(200);
  expect(same.login.body.status).toBe('success');
  const { claims } = await same.flow.complete(same.login.body.redirect_to);
  expect(claims.sub).toBe(alice.id);
  // Only the password was proven in this login.
  expect(claims.amr).toEqual(['pwd']);
  expect(claims.acr).toBe('aal1');

  // Bound to the user: Alice's device token in Bob's login → MFA.
  const other = await loginWithDevice(bob.username, token!);
  expect(other.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });

  // A bit-flipped token is worthless.
  const flipped = token!.slice(0, -1) + (token!.endsWith('A') ? 'B' : 'A');
  expect((await loginWithDevice(alice.username, flipped)).login.body.status).toBe('mfa_required');

  // The cookie alone is no login: the interaction still asks for the password.
  const browser = new Browser();
  const bare = await beginAuth(config, { browser });
  plantCookie(browser, 'idp_device', token!);
  expect((await bare.details()).body.step).toBe('login');
  expect((await bare.post('login', { username: alice.username, password: 'wrong password!' })).status).toBe(401);
});

test('expiry is enforced server-side: past trusted_device_duration_days MFA is asked again, also inside a session signed in with the device', async () => {
  const user = await totpUser('dev-expiry');
  const { token } = await loginAndTrust(user);

  // Ten minutes before the device's 30 days run out: it still skips MFA, and opens a session.
  clock.advance(30 * DAY - 10 * MINUTE);
  const stillTrusted = await loginWithDevice(user.username, token!);
  expect(stillTrusted.login.body.status).toBe('success');
  await stillTrusted.flow.complete(stillTrusted.login.body.redirect_to);

  // Twenty minutes later the device has expired; the session it opened is well within its lifetime.
  clock.advance(20 * MINUTE);
  // A new login: the cookie (whatever the browser thinks of its lifetime) no longer skips MFA.
  const expired = await loginWithDevice(user.username, token!);
  expect(expired.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  expect((await expired.flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) })).body.status).toBe('trust_device');

  // The session that the device let through now needs MFA too: no password, only the challenge.
  const inSession = await beginAuth(config, { browser: stillTrusted.browser });
  expect(inSession.interactionUrl).toBeDefined();
  expect((await inSession.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
});

test('revocation: after revokeAll the cookie skips nothing, neither in a new login nor in the session it opened', async () => {
  const user = await totpUser('dev-revoke');
  const { token } = await loginAndTrust(user);
  const trusted = await loginWithDevice(user.username, token!);
  expect(trusted.login.body.status).toBe('success');
  await trusted.flow.complete(trusted.login.body.redirect_to);
  // Inside that session a new request passes silently while the device is valid.
  const silent = await beginAuth(config, { browser: trusted.browser });
  expect(silent.interactionUrl).toBeUndefined();
  await silent.complete();

  await idp.container.devices.revokeAll(user.id, 'admin:test', 'test');
  expect(await idp.container.devices.list(user.id)).toEqual([]);

  const fresh = await loginWithDevice(user.username, token!);
  expect(fresh.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  const inSession = await beginAuth(config, { browser: trusted.browser });
  expect(inSession.interactionUrl).toBeDefined();
  expect((await inSession.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
});

test('a trusted device never satisfies a step-up: acr_values=aal2 asks MFA, then the id_token has acr aal2, amr otp and step_up', async () => {
  const user = await totpUser('dev-stepup');
  const { token } = await loginAndTrust(user);

  // A fresh login that asks for aal2 ignores the device.
  const fresh = await loginWithDevice(user.username, token!, { acr_values: 'aal2' });
  expect(fresh.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });

  // A session opened with the device (aal1) ...
  const trusted = await loginWithDevice(user.username, token!);
  expect(trusted.login.body.status).toBe('success');
  expect((await trusted.flow.complete(trusted.login.body.redirect_to)).claims.acr).toBe('aal1');

  // ... then the RP asks for aal2 in it: only the second factor is asked, never the password.
  const stepUp = await beginAuth(config, { browser: trusted.browser, params: { acr_values: 'aal2' } });
  expect(stepUp.interactionUrl).toBeDefined();
  expect((await stepUp.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  clock.advance(MINUTE);
  const res = await stepUp.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
  expect(res.status).toBe(200);
  // No trust offer on a step-up.
  expect(res.body.status).toBe('success');
  const { claims } = await stepUp.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(claims.step_up).toBe(true);
});

test('a device records when it last counted for a sign-in (shown in the device lists), written at most once a minute', async () => {
  clock.freeze();
  const user = await totpUser('dev-last-used');
  const { token } = await loginAndTrust(user);
  const listed = async () => {
    const res = await fetch(`${idp.url}/api/v1/users/${user.id}/devices`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { devices: { last_used_at: string | null }[] }).devices;
  };
  // Trusted in a sign-in, it counted for that sign-in.
  expect(Date.parse((await listed())[0]!.last_used_at!)).toBe(clock.now());

  clock.advance(10 * MINUTE);
  expect((await loginWithDevice(user.username, token!)).login.body.status).toBe('success');
  expect(Date.parse((await listed())[0]!.last_used_at!)).toBe(clock.now());

  clock.advance(30_000);
  expect((await loginWithDevice(user.username, token!)).login.body.status).toBe('success');
  const within = clock.now() - 30_000;
  expect(Date.parse((await listed())[0]!.last_used_at!)).toBe(within);

  clock.advance(2 * MINUTE);
  expect((await loginWithDevice(user.username, token!)).login.body.status).toBe('success');
  expect(Date.parse((await listed())[0]!.last_used_at!)).toBe(clock.now());
});
