/**
 * The login interaction under attack and in a new user's hands: enrolment inside a step-up needs a
 * fresh password, trusted devices only count where the client's policy allows them, the device
 * token stays in its httpOnly cookie, every interaction answer is no-store, an enrolment keeps one
 * secret per login, and every finished login is audited and counted once, traceable by request.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/logger.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import {
  DAY,
  FakeClock,
  MINUTE,
  PASSWORD,
  beginAuth,
  codeAt,
  newUser,
  passwordStep,
  plantCookie,
  seedTotp,
  wrongCode,
  type Flow,
} from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
const logLines: Record<string, any>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});
let idp: TestIdp;
/** First-party client under the global policy. */
let config: oc.Configuration;
let clientId: string;
/** A client whose own policy switches trusted devices off. */
let noDevices: oc.Configuration;
/** A client whose own policy trusts a device for one day only. */
let oneDay: oc.Configuration;

const BASE = {
  policy: 'any',
  enforce_enrollment: false,
  grace_period_seconds: 0,
  required_for_roles: [] as string[],
  trusted_device_duration_days: 30,
  reauth_interval_minutes: 0,
};

beforeAll(async () => {
  idp = await startTestIdp('login-hardening', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock, logger: createLogger('info', sink) });
  const a = await registerClient(idp.url, { first_party: true });
  clientId = a.client_id;
  config = await discover(idp.url, a.client_id, a.client_secret);
  const b = await registerClient(idp.url, { first_party: true, mfa_policy: { policy: 'otp', trusted_device_duration_days: 0 } });
  noDevices = await discover(idp.url, b.client_id, b.client_secret);
  const c = await registerClient(idp.url, { first_party: true, mfa_policy: { trusted_device_duration_days: 1 } });
  oneDay = await discover(idp.url, c.client_id, c.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  clock.reset();
  await idp.container.settings.patchGlobal({ mfa: BASE, lockout: { max_failures: 5 } });
});

const csrfOf = (html: string) => /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)?.[1];
/** The key as the page offers it for pasting: unspaced, in a read-only field. */
const secretOf = (html: string) => /<input id="totp-key" type="text" readonly value="([A-Z2-7]+)"/.exec(html)?.[1];

async function page(flow: Flow) {
  const res = await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } });
  return { status: res.status, html: await res.text(), res };
}

async function form(flow: Flow, path: string, fields: Record<string, string>) {
  const res = await flow.browser.fetch(`${flow.interactionUrl!.href}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams(fields),
  });
  return { status: res.status, html: await res.text(), res };
}

/** A form post that shows a page: answered with a 303 to the step page (Post/Redirect/Get), which the browser then shows. */
async function formThenPage(flow: Flow, path: string, fields: Record<string, string>) {
  const posted = await form(flow, path, fields);
  expect(posted.status).toBe(303);
  expect(new URL(posted.res.headers.get('location')!, flow.interactionUrl).href).toBe(flow.interactionUrl!.href);
  return page(flow);
}

async function credentialRows(userId: string) {
  return idp.container.db.selectFrom('credentials').selectAll().where('userId', '=', userId).where('kind', '=', 'totp').execute();
}

async function auditRows(userId: string, type?: string) {
  let q = idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', userId).orderBy('id');
  if (type) q = q.where('type', '=', type);
  return q.execute();
}

async function successCount(): Promise<number> {
  const text = await (await fetch(`${idp.metricsUrl}/metrics`)).text();
  const m = /^idp_logins_total\{outcome="success"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Password alone, in `browser`: a session at aal1. */
async function passwordSession(username: string, browser = new Browser()) {
  const { flow, login } = await passwordStep(config, username, PASSWORD, { browser });
  expect(login.body.status).toBe('success');
  const { claims } = await flow.complete(login.body.redirect_to);
  expect(claims.acr).toBe('aal1');
  return browser;
}

/** A step-up to aal2 in a password-only session signed in `minutes` ago by a user without a factor. */
async function staleStepUp(label: string, minutes: number) {
  const user = await newUser(idp.url, label);
  const browser = await passwordSession(user.username);
  clock.advance(minutes * MINUTE);
  const flow = await beginAuth(config, { browser, params: { acr_values: 'aal2' } });
  expect(flow.interactionUrl).toBeDefined();
  return { user, flow };
}

describe('enrolment inside a step-up needs a fresh password', () => {
  test('a session older than the recent-auth window: /enroll/totp and its confirm are refused until the password is given again', async () => {
    const { user, flow } = await staleStepUp('reauth-stale', 6);
    expect((await flow.details()).body).toMatchObject({ step: 'reauth', client_id: clientId });

    // The attacker skips the page and goes straight for the enrolment, many times at once.
    const attempts = await Promise.all([
      ...Array.from({ length: 5 }, () => flow.post('enroll/totp')),
      ...Array.from({ length: 5 }, () => flow.post('enroll/totp/confirm', { code: '123456' })),
    ]);
    for (const a of attempts) {
      expect(a.status).toBe(400);
      expect(a.body).toEqual({ error: 'invalid_step', error_description: expect.any(String) });
    }
    expect(await credentialRows(user.id)).toEqual([]);
    // Nor does any other step move the interaction on.
    expect((await flow.post('mfa/totp', { code: '123456' })).status).toBe(400);
    expect((await flow.post('login', { username: user.username, password: PASSWORD })).status).toBe(400);

    // A wrong password is the login's own failure: 401, counted toward the account's lockout.
    const wrong = await flow.post('reauth', { password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_credentials');
    const row = await idp.container.db.selectFrom('users').select('failedAttempts').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.failedAttempts).toBe(1);
    expect(await auditRows(user.id, 'authn.login.failed')).toHaveLength(1);
    expect((await flow.post('enroll/totp')).status).toBe(400);
    expect(await credentialRows(user.id)).toEqual([]);

    const right = await flow.post('reauth', { password: PASSWORD });
    expect(right.status).toBe(200);
    expect(right.body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: ['totp', 'passkey'] });
    expect((await flow.details()).body).toMatchObject({ step: 'enroll' });
    const started = await flow.post('enroll/totp');
    expect(started.status).toBe(200);
    const done = await flow.post('enroll/totp/confirm', { code: await codeAt(started.body.secret, clock.now()) });
    expect(done.status).toBe(200);
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.sub).toBe(user.id);
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('the re-entered password is checked by the login: once the account locks, even the right one is refused', async () => {
    await idp.container.settings.patchGlobal({ lockout: { max_failures: 3 } });
    const { user, flow } = await staleStepUp('reauth-lock', 6);
    expect((await flow.details()).body.step).toBe('reauth');
    for (let i = 0; i < 3; i++) expect((await flow.post('reauth', { password: `wrong ${i}` })).status).toBe(401);
    const right = await flow.post('reauth', { password: PASSWORD });
    expect(right.status).toBe(401);
    expect(right.body.error).toBe('invalid_credentials');
    expect((await flow.post('enroll/totp')).status).toBe(400);
    expect(await credentialRows(user.id)).toEqual([]);
  });

  test('HTML: the login page asks for the password with the username fixed, then shows the enrolment', async () => {
    const { user, flow } = await staleStepUp('reauth-html', 10);
    const first = await page(flow);
    expect(first.status).toBe(200);
    expect(first.html).toContain(`action="/interaction/${flow.interactionUrl!.pathname.split('/')[2]}/reauth"`);
    expect(first.html).toMatch(new RegExp(`name="username"[^>]*value="${user.username}"[^>]*readonly`));
    expect(first.html).not.toContain('<img');
    const csrf = csrfOf(first.html)!;

    const wrong = await formThenPage(flow, 'reauth', { csrf, password: 'nope nope nope' });
    expect(wrong.status).toBe(200);
    expect(wrong.html).toContain('Invalid username or password');
    expect(wrong.html).toContain('/reauth"');

    const right = await formThenPage(flow, 'reauth', { csrf, password: PASSWORD });
    expect(right.status).toBe(200);
    expect(secretOf(right.html)).toMatch(/^[A-Z2-7]{32,}$/);
    expect(await credentialRows(user.id)).toHaveLength(1);
  });

  test('within the recent-auth window the enrolment follows directly (no second password)', async () => {
    const { flow } = await staleStepUp('reauth-fresh', 2);
    expect((await flow.details()).body).toMatchObject({ step: 'enroll', allowed_methods: ['totp', 'passkey'] });
    expect((await flow.post('enroll/totp')).status).toBe(200);
  });
});

describe('trusted devices follow the policy of the client being signed into', () => {
  async function totpUser(label: string) {
    const user = await newUser(idp.url, label);
    return { ...user, secret: await seedTotp(idp.container, user.id) };
  }

  /** Password + TOTP at the global-policy client, then trust: the device cookie's value. */
  async function trustedDevice(user: { username: string; secret: string }) {
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.status).toBe('mfa_required');
    expect((await flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) })).body.status).toBe('trust_device');
    const res = await flow.post('trust-device', { trust: true });
    expect(res.body.status).toBe('success');
    await flow.complete(res.body.redirect_to);
    const token = flow.browser.cookies().get('idp_device');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    return token!;
  }

  async function loginWithDevice(at: oc.Configuration, username: string, token: string, browser = new Browser()) {
    const flow = await beginAuth(at, { browser });
    plantCookie(browser, 'idp_device', token);
    return { flow, login: await flow.post('login', { username, password: PASSWORD }) };
  }

  test('a device trusted at one client gives no skip at a client with trusted_device_duration_days 0, in a new login and in the session', async () => {
    const user = await totpUser('dev-zero');
    const token = await trustedDevice(user);

    // Control: the global-policy client lets the device through.
    const here = await loginWithDevice(config, user.username, token);
    expect(here.login.body.status).toBe('success');
    const session = await here.flow.complete(here.login.body.redirect_to);
    expect(session.claims.acr).toBe('aal1');

    // A new login at the client that disables trusted devices: the second factor is asked.
    clock.advance(MINUTE);
    const there = await loginWithDevice(noDevices, user.username, token);
    expect(there.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    const verified = await there.flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
    expect(verified.body.status).toBe('success');
    const { claims } = await there.flow.complete(verified.body.redirect_to);
    expect(claims.acr).toBe('aal2');
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

    // The session the device opened at the first client is no pass at the second.
    const sso = await beginAuth(noDevices, { browser: here.flow.browser });
    expect(sso.interactionUrl).toBeDefined();
    expect((await sso.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  });

  test('a device trusted longer ago than the client allows counts for nothing there, and still counts where the policy allows it', async () => {
    const user = await totpUser('dev-age');
    const token = await trustedDevice(user);
    clock.advance(2 * DAY);
    expect((await loginWithDevice(oneDay, user.username, token)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    expect((await loginWithDevice(config, user.username, token)).login.body.status).toBe('success');
  });

  test('a global policy of 0 days set through the settings API: the device skips nothing', async () => {
    const user = await totpUser('dev-global');
    const token = await trustedDevice(user);
    const res = await fetch(`${idp.url}/api/v1/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mfa: { trusted_device_duration_days: 0 } }),
    });
    expect(res.status).toBe(200);
    const { flow, login } = await loginWithDevice(config, user.username, token);
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    clock.advance(MINUTE);
    const verified = await flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
    // No trust offered where the policy has none.
    expect(verified.body.status).toBe('success');
    const { claims } = await flow.complete(verified.body.redirect_to);
    expect(claims.acr).toBe('aal2');
  });
});

describe('the device token and caching of interaction answers', () => {
  test('the trust-device answer sets the token in the httpOnly cookie only, never in the JSON body', async () => {
    const user = await newUser(idp.url, 'dev-body');
    const secret = await seedTotp(idp.container, user.id);
    const { flow } = await passwordStep(config, user.username, PASSWORD);
    await flow.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
    const res = await flow.post('trust-device', { trust: true });
    expect(res.status).toBe(200);
    const cookie = res.res.headers.getSetCookie().find((c) => c.startsWith('idp_device='))!;
    expect(cookie.toLowerCase()).toContain('httponly');
    const token = cookie.split(';')[0]!.slice('idp_device='.length);
    expect(token.length).toBeGreaterThan(40);
    expect(Object.keys(res.body).sort()).toEqual(['redirect_to', 'status']);
    expect(JSON.stringify(res.body)).not.toContain(token);
  });

  test('every answer under /interaction/ is no-store: JSON steps, HTML pages, redirects and errors', async () => {
    const user = await newUser(idp.url, 'no-store');
    const secret = await seedTotp(idp.container, user.id);
    const answers: [string, Response][] = [];
    const flow = await beginAuth(config);
    const base = flow.interactionUrl!.href;
    answers.push(['GET json', (await flow.browser.json(flow.interactionUrl!)).res]);
    answers.push(['GET html', (await page(flow)).res]);
    answers.push(['wrong password', (await flow.post('login', { username: user.username, password: 'wrong!' })).res]);
    answers.push(['login', (await flow.post('login', { username: user.username, password: PASSWORD })).res]);
    answers.push(['wrong code', (await flow.post('mfa/totp', { code: await wrongCode(secret, clock.now()) })).res]);
    answers.push(['malformed code', (await flow.post('mfa/totp', { code: 42 })).res]);
    answers.push(['wrong step', (await flow.post('trust-device', { trust: false })).res]);
    answers.push(['no csrf', (await form(flow, 'abort', {})).res]);
    answers.push(['unknown route', await flow.browser.fetch(`${base}/nowhere`, { headers: { accept: 'application/json' } })]);
    answers.push(['unknown uid', await flow.browser.fetch(`${idp.url}/interaction/AAAAAAAAAAAAAAAAAAAAA`, { headers: { accept: 'application/json' } })]);
    answers.push(['mfa', (await flow.post('mfa/totp', { code: await codeAt(secret, clock.now()) })).res]);
    const csrf = csrfOf((await page(flow)).html)!;
    answers.push(['trust redirect', (await form(flow, 'trust-device', { csrf, trust: 'false' })).res]);
    const statuses = answers.map(([name, res]) => [name, res.status]);
    expect(statuses).toEqual([
      ['GET json', 200],
      ['GET html', 200],
      ['wrong password', 401],
      ['login', 200],
      ['wrong code', 401],
      ['malformed code', 400],
      ['wrong step', 400],
      ['no csrf', 403],
      ['unknown route', 404],
      ['unknown uid', 400],
      ['mfa', 200],
      ['trust redirect', 303],
    ]);
    expect(answers.filter(([, res]) => !/no-store/.test(res.headers.get('cache-control') ?? '')).map(([name]) => name)).toEqual([]);
  });
});

describe('one TOTP secret per login enrolment', () => {
  test('render, wrong code, reload, JSON restart: the same secret throughout, and a code from the first one confirms', async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    const user = await newUser(idp.url, 'enrol-one');
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.status).toBe('mfa_enrollment_required');

    const shown = await page(flow);
    expect(shown.status).toBe(200);
    const secret = secretOf(shown.html)!;
    expect(secret).toMatch(/^[A-Z2-7]{32,}$/);
    const csrf = csrfOf(shown.html)!;

    const wrong = await formThenPage(flow, 'enroll/totp/confirm', { csrf, code: await wrongCode(secret, clock.now()) });
    expect(wrong.status).toBe(200);
    expect(wrong.html).toContain('That code is not valid');
    expect(secretOf(wrong.html)).toBe(secret);
    expect(secretOf((await page(flow)).html)).toBe(secret);
    const again = await flow.post('enroll/totp');
    expect(again.body.secret).toBe(secret);
    expect(new URL(again.body.otpauth_uri).searchParams.get('secret')).toBe(secret);
    expect(await credentialRows(user.id)).toHaveLength(1);

    // The account's first factor: its backup codes are shown once, then the login goes on.
    const confirmed = await form(flow, 'enroll/totp/confirm', { csrf, code: await codeAt(secret, clock.now()) });
    expect(confirmed.status).toBe(303);
    expect(confirmed.res.headers.get('location')).toBe(`${flow.interactionUrl!.pathname}/backup-codes`);
    expect(
      (await (await flow.browser.fetch(`${flow.interactionUrl!.href}/backup-codes`, { headers: { accept: 'text/html' } })).text()).match(/<li>/g),
    ).toHaveLength(10);
    const saved = await formThenPage(flow, 'backup-codes', { csrf, saved: 'on' });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain('Trust this device?');
    const finished = await form(flow, 'trust-device', { csrf, trust: 'false' });
    expect(finished.status).toBe(303);
    const { claims } = await flow.complete(finished.res.headers.get('location')!);
    expect(claims.acr).toBe('aal2');
    const rows = await credentialRows(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.confirmedAt).not.toBeNull();
  });

  test('another login starts its own enrolment', async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    const user = await newUser(idp.url, 'enrol-two');
    const one = await passwordStep(config, user.username, PASSWORD);
    const first = (await one.flow.post('enroll/totp')).body.secret as string;
    const two = await passwordStep(config, user.username, PASSWORD);
    const second = (await two.flow.post('enroll/totp')).body.secret as string;
    expect(second).not.toBe(first);
    expect((await two.flow.post('enroll/totp/confirm', { code: await codeAt(second, clock.now()) })).status).toBe(200);
  });
});

describe('every finished login is audited and counted once', () => {
  test('an MFA login: exactly one authn.login.succeeded with client id, request id and IP; the success metric moves', async () => {
    const user = await newUser(idp.url, 'audit-mfa');
    const secret = await seedTotp(idp.container, user.id);
    const before = await successCount();
    const { flow, login: failed } = await passwordStep(config, user.username, 'wrong password first');
    expect(failed.status).toBe(401);
    const login = await flow.post('login', { username: user.username, password: PASSWORD });
    expect(login.body.status).toBe('mfa_required');
    const res = await flow.post('mfa/totp', { code: await codeAt(secret, clock.now()) });
    expect(res.body.status).toBe('trust_device');
    const trusted = await flow.post('trust-device', { trust: false });
    expect(trusted.body.status).toBe('success');
    await flow.complete(trusted.body.redirect_to);

    const rows = await auditRows(user.id, 'authn.login.succeeded');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ clientId, requestId: trusted.res.headers.get('x-request-id'), ip: expect.stringMatching(/127\.0\.0\.1|::1/) });
    // The login also records why it was satisfied, though it finished at the trust-device step.
    expect(rows[0]!.data).toEqual({
      client_id: clientId,
      amr: ['pwd', 'otp', 'mfa'],
      acr: 'aal2',
      reasons: ['policy'],
      sources: [{ source: 'global', key: 'policy' }],
    });
    expect(await successCount()).toBe(before + 1);

    // Every event of this login carries the same client and where each request came from.
    const all = (await auditRows(user.id)).filter((r) => r.type.startsWith('authn.'));
    expect(all.map((r) => r.type)).toEqual(['authn.login.failed', 'authn.mfa.challenged', 'authn.mfa.verified', 'authn.login.succeeded']);
    for (const r of all) expect(r).toMatchObject({ clientId, requestId: expect.any(String), ip: expect.any(String) });
    // ... in the log line too.
    const lines = logLines.filter((l) => l.subject === user.id && String(l.audit).startsWith('authn.'));
    expect(lines.map((l) => l.audit)).toEqual(all.map((r) => r.type));
    for (const l of lines) expect(l).toMatchObject({ clientId, requestId: expect.any(String), ip: expect.any(String) });
  });

  test('password-only, enrolment, trusted-device and step-up logins: one success each, counted', async () => {
    const before = await successCount();
    const plain = await newUser(idp.url, 'audit-plain');
    const browser = await passwordSession(plain.username);
    expect(await auditRows(plain.id, 'authn.login.succeeded')).toHaveLength(1);

    // Step-up in that session, through enrolment (a fresh session: no password asked again).
    const stepUp = await beginAuth(config, { browser, params: { acr_values: 'aal2' } });
    expect((await stepUp.details()).body.step).toBe('enroll');
    const { secret } = (await stepUp.post('enroll/totp')).body;
    const done = await stepUp.post('enroll/totp/confirm', { code: await codeAt(secret, clock.now()) });
    expect(done.body.status).toBe('success');
    await stepUp.complete(done.body.redirect_to);
    const rows = await auditRows(plain.id, 'authn.login.succeeded');
    expect(rows).toHaveLength(2);
    expect(rows[1]!.data).toMatchObject({ acr: 'aal2', client_id: clientId });

    // Trusted device: the trust step finishes the login, and the next login skips MFA with the device.
    const other = await newUser(idp.url, 'audit-device');
    const otherSecret = await seedTotp(idp.container, other.id);
    const { flow } = await passwordStep(config, other.username, PASSWORD);
    await flow.post('mfa/totp', { code: await codeAt(otherSecret, clock.now()) });
    await flow.complete((await flow.post('trust-device', { trust: true })).body.redirect_to);
    const again = await passwordStep(config, other.username, PASSWORD, { browser: flow.browser, params: { prompt: 'login' } });
    expect(again.login.body.status).toBe('success');
    await again.flow.complete(again.login.body.redirect_to);
    expect(await auditRows(other.id, 'authn.login.succeeded')).toHaveLength(2);

    expect(await successCount()).toBe(before + 4);
  });
});
