/**
 * When MFA is asked of users without a factor: enforce_enrollment (TOTP enrolled inside the login
 * interaction), the grace period for new users (with a controllable clock), required_for_roles,
 * and policy `disabled`.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock, MINUTE, PASSWORD, beginAuth, codeAt, newUser, passwordStep, seedTotp, wrongCode, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;

const BASE = { policy: 'any', enforce_enrollment: false, grace_period_seconds: 0, required_for_roles: [] as string[] };

beforeAll(async () => {
  idp = await startTestIdp('mfa-enrol', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  clock.reset();
  // Long pauses on the IdP clock between uses of a session: its idle timeout is not what these tests are about.
  await idp.container.settings.patchGlobal({ mfa: BASE, sessions: { idle_timeout: 43_200 } });
});

/** Enrols TOTP in an interaction at the enroll step; returns the secret and the final answer. */
async function enrolInside(flow: Flow) {
  const started = await flow.post('enroll/totp');
  expect(started.status).toBe(200);
  const { secret } = started.body;
  const res = await flow.post('enroll/totp/confirm', { code: await codeAt(secret, clock.now()) });
  return { secret, started: started.body, res };
}

test('enforce_enrollment: a user without a factor enrols TOTP inside the login, which then completes with aal2', async () => {
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
  const user = await newUser(idp.url, 'enrol-enforced');
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.status).toBe(200);
  expect(login.body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: ['totp', 'passkey'] });
  expect((await flow.details()).body).toMatchObject({ step: 'enroll', allowed_methods: ['totp', 'passkey'] });
  // Nothing else finishes this step.
  expect((await flow.post('mfa/totp', { code: '123456' })).status).toBe(400);
  expect((await flow.post('trust-device', { trust: true })).status).toBe(400);

  const started = await flow.post('enroll/totp');
  expect(started.status).toBe(200);
  expect(started.res.headers.get('cache-control')).toContain('no-store');
  const { secret, otpauth_uri: uri, qr_code_svg: svg, qr_code_png: png } = started.body;
  // 160 bits, base32.
  expect(secret).toMatch(/^[A-Z2-7]{32,}$/);
  const parsed = new URL(uri);
  expect(parsed.protocol).toBe('otpauth:');
  expect(parsed.host).toBe('totp');
  expect(parsed.searchParams.get('secret')).toBe(secret);
  expect(parsed.searchParams.get('issuer')).toBeTruthy();
  expect(svg).toMatch(/<svg[\s\S]*<\/svg>/);
  expect(png).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);

  // A wrong first code does not confirm anything.
  const wrong = await flow.post('enroll/totp/confirm', { code: await wrongCode(secret, clock.now()) });
  expect(wrong.status).toBe(401);
  expect(wrong.body.error).toBe('invalid_code');
  expect(await idp.container.factors.enrolledMethods(user.id)).toEqual([]);

  const res = await flow.post('enroll/totp/confirm', { code: await codeAt(secret, clock.now()) });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

  // Stored encrypted, confirmed; the next login asks for it.
  const rows = await idp.container.db.selectFrom('credentials').selectAll().where('userId', '=', user.id).execute();
  expect(rows).toHaveLength(1);
  expect(rows[0]!.confirmedAt).not.toBeNull();
  expect(rows[0]!.secretSealed).toMatch(/^v1\./);
  expect(JSON.stringify(rows)).not.toContain(secret);
  const next = await passwordStep(config, user.username, PASSWORD);
  expect(next.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  expect((await next.flow.post('mfa/totp', { code: await codeAt(secret, clock.now(), 1) })).status).toBe(200);
});

test('enrolment restarted in the same interaction shows the same secret, which confirms', async () => {
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
  const user = await newUser(idp.url, 'enrol-restart');
  const { flow } = await passwordStep(config, user.username, PASSWORD);
  const first = (await flow.post('enroll/totp')).body.secret as string;
  const second = (await flow.post('enroll/totp')).body.secret as string;
  expect(second).toBe(first);
  // A look at the passkey choice and back: still the secret the user may already have scanned.
  expect((await flow.post('enroll/passkey')).status).toBe(200);
  expect((await flow.post('enroll/totp')).body.secret).toBe(first);
  const res = await flow.post('enroll/totp/confirm', { code: await codeAt(first, clock.now()) });
  expect(res.status).toBe(200);
});

test('hostile values of the enrolment code field → 400/401, never 500, counted toward the attempt limit', async () => {
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
  const user = await newUser(idp.url, 'enrol-hostile');
  const { flow } = await passwordStep(config, user.username, PASSWORD);
  const { secret } = (await flow.post('enroll/totp')).body;
  const hostile: unknown[] = ['', '1234567', '１２３４５６', '123456\n', ['123456', '654321'], { $gt: '' }, 123456, null, '7'.repeat(10_240)];
  const answers = [];
  for (const code of hostile) {
    const res = await flow.post('enroll/totp/confirm', { code });
    answers.push({ code: JSON.stringify(code).slice(0, 24), status: res.status, error: res.body.error });
  }
  expect(answers.filter((a) => !((a.status === 400 && a.error === 'invalid_request') || (a.status === 401 && a.error === 'invalid_code')))).toEqual([]);
  const tenth = await flow.post('enroll/totp/confirm', { code: await wrongCode(secret, clock.now()) });
  expect(tenth.status).toBe(429);
  expect(tenth.body.error).toBe('too_many_attempts');
  const right = await flow.post('enroll/totp/confirm', { code: await codeAt(secret, clock.now()) });
  expect(right.status).toBe(429);
  expect(await idp.container.factors.enrolledMethods(user.id)).toEqual([]);
});

test('grace period: a new user signs in with aal1 until it ends, then must enrol, also inside a valid session', async () => {
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true, grace_period_seconds: 3600 } });
  const user = await newUser(idp.url, 'enrol-grace');
  const browser = new Browser();
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, { browser });
  expect(login.status).toBe(200);
  expect(login.body.status).toBe('success');
  const first = await flow.complete(login.body.redirect_to);
  expect(first.claims.acr).toBe('aal1');
  expect(first.claims.amr).toEqual(['pwd']);

  // Still inside the grace period: a new request in the session needs no interaction.
  clock.advance(59 * MINUTE);
  const inside = await beginAuth(config, { browser });
  expect(inside.interactionUrl).toBeUndefined();
  await inside.complete();

  // Past it: a fresh login must enrol ...
  clock.advance(2 * MINUTE);
  const late = await passwordStep(config, user.username, PASSWORD);
  expect(late.login.body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: ['totp', 'passkey'] });

  // ... and so must the session that signed in during the grace period: no new login, but its password
  // is over an hour old, so it is asked again (inside this interaction) before a factor is added.
  const again = await beginAuth(config, { browser });
  expect(again.interactionUrl).toBeDefined();
  expect((await again.details()).body).toMatchObject({ step: 'reauth' });
  expect((await again.post('reauth', { password: PASSWORD })).body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: ['totp', 'passkey'] });
  expect((await again.details()).body).toMatchObject({ step: 'enroll', allowed_methods: ['totp', 'passkey'] });
  const { res } = await enrolInside(again);
  expect(res.status).toBe(200);
  const { claims } = await again.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
});

test('required_for_roles: enrolment is mandatory for the role only', async () => {
  await idp.container.settings.patchGlobal({ mfa: { required_for_roles: ['admin'] } });
  const admin = await newUser(idp.url, 'enrol-admin', { roles: ['admin'] });
  const plain = await newUser(idp.url, 'enrol-plain', { roles: ['staff'] });

  const a = await passwordStep(config, admin.username, PASSWORD);
  expect(a.login.body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: ['totp', 'passkey'] });
  const { res } = await enrolInside(a.flow);
  expect(res.status).toBe(200);
  expect((await a.flow.complete(res.body.redirect_to)).claims.acr).toBe('aal2');

  const p = await passwordStep(config, plain.username, PASSWORD);
  expect(p.login.body.status).toBe('success');
  expect((await p.flow.complete(p.login.body.redirect_to)).claims.acr).toBe('aal1');

  // Even with the policy disabled for everyone else, the role still needs its factor.
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled' } });
  const plainWithTotp = await newUser(idp.url, 'enrol-plain-totp', { roles: ['staff'] });
  await seedTotp(idp.container, plainWithTotp.id);
  expect((await passwordStep(config, admin.username, PASSWORD)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  expect((await passwordStep(config, plainWithTotp.username, PASSWORD)).login.body.status).toBe('success');
});

test("policy 'disabled' never asks: neither a challenge for an enrolled user nor enrolment, even with enforce_enrollment", async () => {
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled', enforce_enrollment: true } });
  const withTotp = await newUser(idp.url, 'enrol-disabled-totp');
  await seedTotp(idp.container, withTotp.id);
  const without = await newUser(idp.url, 'enrol-disabled-none');
  for (const user of [withTotp, without]) {
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.status).toBe(200);
    expect(login.body.status).toBe('success');
    const { claims } = await flow.complete(login.body.redirect_to);
    expect(claims.acr).toBe('aal1');
    expect(claims.amr).toEqual(['pwd']);
  }
  // Control: with the policy back to `any`, the same enrolled user is challenged.
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any' } });
  expect((await passwordStep(config, withTotp.username, PASSWORD)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
});
