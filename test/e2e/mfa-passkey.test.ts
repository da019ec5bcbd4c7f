/**
 * Passkeys through the real IdP: registration in self-service, several named credentials, the
 * passkey as second factor and as the only factor (passwordless), the amr/acr the relying party
 * gets, aal3, renaming and removal by the user and by an admin, the profile and the audit trail.
 */
import { SoftAuthenticator, type SoftAuthenticatorOptions } from '../helpers/soft-authenticator.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
/** Real time plus an offset a test may move. */
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };

beforeAll(async () => {
  idp = await startTestIdp('passkey', 'postgres+redis', { mfa: { attemptsPerChallenge: 10, recentAuthSeconds: 300 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(() => {
  clock.offsetMs = 0;
});

const origin = () => new URL(idp.url).origin;

/** The session's CSRF token, for cookie-authenticated writes without a JSON body. */
const csrfOf = new WeakMap<Browser, string>();

async function call(browser: Browser, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  if (method === 'DELETE' && !headers.authorization && !csrfOf.has(browser)) csrfOf.set(browser, (await call(browser, 'GET', '/me')).body.csrf_token);
  const csrf = method === 'DELETE' ? csrfOf.get(browser) : undefined;
  const res = await browser.fetch(`${idp.url}/api/v1${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(csrf ? { 'x-csrf-token': csrf } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const admin = (method: string, path: string) => call(new Browser(), method, path, undefined, { authorization: `Bearer ${ADMIN_KEY}` });
const audits = (subject: string, type: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', subject).where('type', '=', type).orderBy('id').execute();

/** Password sign-in (no factor yet): the browser holds a fresh session. */
async function passwordSession(username: string) {
  const flow = await beginAuth(config);
  const login = await flow.post('login', { username, password: PASSWORD });
  expect(login.body.status).toBe('success');
  await flow.complete(login.body.redirect_to);
  return flow.browser;
}

async function register(browser: Browser, authenticator: SoftAuthenticator, name?: string) {
  const options = await call(browser, 'POST', '/mfa/passkey/register/begin', {});
  expect(options.status).toBe(200);
  expect(options.body).toMatchObject({ rp: { id: 'localhost' }, authenticatorSelection: { residentKey: 'preferred' }, attestation: 'none' });
  expect(Buffer.from(options.body.challenge, 'base64url')).toHaveLength(32);
  const credential = await authenticator.create(options.body, { origin: origin() });
  return { options: options.body, finish: await call(browser, 'POST', '/mfa/passkey/register/finish', { credential, ...(name ? { name } : {}) }) };
}

describe('registration and management', () => {
  test('two named passkeys: listed, excluded from new registrations, renamed, removed; profile and audit follow', async () => {
    const user = await newUser(idp.url, 'pk-manage');
    const browser = await passwordSession(user.username);
    const laptop = new SoftAuthenticator({ origin: origin() });
    const key = new SoftAuthenticator({ origin: origin(), kind: 'synced' });

    const first = await register(browser, laptop, 'Laptop');
    expect(first.finish.status).toBe(201);
    expect(first.finish.body).toMatchObject({ id: expect.any(String), name: 'Laptop', device_type: 'single_device', backed_up: false, user_verified: true });
    const second = await register(browser, key);
    expect(second.finish.status).toBe(201);
    expect(second.finish.body).toMatchObject({ name: 'Passkey', device_type: 'multi_device' });
    // The first one is excluded from the second registration.
    expect(second.options.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([laptop.credentials[0]!.id]);

    const list = await call(browser, 'GET', '/mfa/passkeys');
    expect(list.body.passkeys.map((p: { name: string }) => p.name)).toEqual(['Laptop', 'Passkey']);
    expect(JSON.stringify(list.body)).not.toMatch(/publicKey|public_key|sign_count/);

    const renamed = await call(browser, 'PATCH', `/mfa/passkeys/${second.finish.body.id}`, { name: 'Phone' });
    expect(renamed).toMatchObject({ status: 200, body: { id: second.finish.body.id, name: 'Phone' } });
    expect((await call(browser, 'PATCH', `/mfa/passkeys/${second.finish.body.id}`, { name: '' })).status).toBe(400);

    const profile = () => admin('GET', `/users/profile?externalUserId=${encodeURIComponent(`ext-${user.username}`)}`);
    expect(await profile()).toMatchObject({ status: 200, body: { has_passkeys: true } });
    const byAdmin = await admin('GET', `/users/${user.id}/passkeys`);
    expect(byAdmin.body.passkeys.map((p: { name: string }) => p.name)).toEqual(['Laptop', 'Phone']);

    expect((await call(browser, 'DELETE', `/mfa/passkeys/${first.finish.body.id}`)).status).toBe(204);
    expect((await call(browser, 'DELETE', `/mfa/passkeys/${first.finish.body.id}`)).status).toBe(404);
    expect((await admin('DELETE', `/users/${user.id}/passkeys/${second.finish.body.id}`)).status).toBe(204);
    expect((await admin('GET', `/users/${user.id}/passkeys`)).body.passkeys).toEqual([]);
    expect((await profile()).body.has_passkeys).toBe(false);
    // A factor removed by an admin ends the user's sessions, this one included.
    expect((await call(browser, 'GET', '/mfa/passkeys')).status).toBe(401);

    expect(await audits(user.id, 'authn.factor.enrolled')).toHaveLength(2);
    expect(await audits(user.id, 'authn.credential.renamed')).toHaveLength(1);
    expect(await audits(user.id, 'authn.factor.removed')).toHaveLength(2);
  });

  test('a registration response is good once, and only for the session that asked', async () => {
    const user = await newUser(idp.url, 'pk-replay');
    const browser = await passwordSession(user.username);
    const other = await passwordSession(user.username);
    const authenticator = new SoftAuthenticator({ origin: origin() });
    const options = await call(browser, 'POST', '/mfa/passkey/register/begin', {});
    const credential = await authenticator.create(options.body, { origin: origin() });
    // Another session of the same user cannot answer these options.
    expect((await call(other, 'POST', '/mfa/passkey/register/finish', { credential })).status).toBe(400);
    expect((await call(browser, 'POST', '/mfa/passkey/register/finish', { credential })).status).toBe(201);
    expect((await call(browser, 'POST', '/mfa/passkey/register/finish', { credential })).status).toBe(400);
    expect((await call(browser, 'GET', '/mfa/passkeys')).body.passkeys).toHaveLength(1);
  });

  test('step-up in self-service: a challenge started by this session, answered once', async () => {
    const user = await newUser(idp.url, 'pk-verify');
    const browser = await passwordSession(user.username);
    const authenticator = new SoftAuthenticator({ origin: origin() });
    expect((await register(browser, authenticator)).finish.status).toBe(201);
    const options = await call(browser, 'POST', '/mfa/passkey/verify/begin', {});
    expect(options.body.allowCredentials.map((c: { id: string }) => c.id)).toEqual(authenticator.credentials.map((c) => c.id));
    const credential = await authenticator.get(options.body, { origin: origin() });
    expect(await call(browser, 'POST', '/mfa/verify', { credential })).toEqual({ status: 200, body: { status: 'success', method: 'passkey' } });
    expect((await call(browser, 'POST', '/mfa/verify', { credential })).status).toBe(401);
    expect(await audits(user.id, 'authn.step_up.completed')).toHaveLength(1);
  });

  test('removing the passkey a session signed in with ends that session too; another passkey’s removal does not', async () => {
    const user = await newUser(idp.url, 'pk-minted');
    const setup = await passwordSession(user.username);
    const [a, b] = [new SoftAuthenticator({ origin: origin() }), new SoftAuthenticator({ origin: origin() })];
    const first = (await register(setup, a)).finish.body.id as string;
    const second = (await register(setup, b)).finish.body.id as string;
    // A passwordless sign-in with the first passkey.
    const flow = await beginAuth(config);
    const options = await flow.post('passkey/begin');
    const done = await flow.post('passkey/finish', { credential: await a.get(options.body, { origin: origin() }) });
    await flow.complete(done.body.redirect_to);
    expect((await call(flow.browser, 'DELETE', `/mfa/passkeys/${second}`)).status).toBe(204);
    expect((await call(flow.browser, 'GET', '/mfa/passkeys')).status).toBe(200);
    expect((await call(flow.browser, 'DELETE', `/mfa/passkeys/${first}`)).status).toBe(204);
    expect((await call(flow.browser, 'GET', '/mfa/passkeys')).status).toBe(401);
  });
});

describe('signing in', () => {
  async function userWithPasskey(label: string, opts: Partial<SoftAuthenticatorOptions> = {}) {
    const user = await newUser(idp.url, label);
    const authenticator = new SoftAuthenticator({ origin: origin(), ...opts });
    expect((await register(await passwordSession(user.username), authenticator)).finish.status).toBe(201);
    return { user, authenticator };
  }

  test('second factor: request options name only the user’s credentials; amr pwd + hwk + user + mfa, acr aal3', async () => {
    const { user, authenticator } = await userWithPasskey('pk-2fa');
    const flow = await beginAuth(config);
    const login = await flow.post('login', { username: user.username, password: PASSWORD });
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['passkey'] });
    const options = await flow.post('mfa/passkey/begin');
    expect(options.status).toBe(200);
    expect(options.body.allowCredentials.map((c: { id: string }) => c.id)).toEqual(authenticator.credentials.map((c) => c.id));
    const credential = await authenticator.get(options.body, { origin: origin() });
    const done = await flow.post('mfa/passkey/finish', { credential });
    expect(done.body.status).toBe('success');
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.acr).toBe('aal3');
  });

  test('passwordless: a discoverable, user-verified passkey alone signs in; a synced one is aal2 with swk', async () => {
    const { authenticator } = await userWithPasskey('pk-nopw', { kind: 'synced' });
    const flow = await beginAuth(config);
    const options = await flow.post('passkey/begin');
    expect(options.status).toBe(200);
    expect(options.body.allowCredentials ?? []).toEqual([]);
    expect(options.body.userVerification).toBe('required');
    const done = await flow.post('passkey/finish', { credential: await authenticator.get(options.body, { origin: origin() }) });
    expect(done.body.status).toBe('success');
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.amr).toEqual(['swk', 'user', 'mfa']);
    expect(claims.acr).toBe('aal2');
  });

  test('a challenge past its lifetime (300 s) is refused, and counts as a failure', async () => {
    const { user, authenticator } = await userWithPasskey('pk-expired');
    const flow = await beginAuth(config);
    const options = await flow.post('passkey/begin');
    const credential = await authenticator.get(options.body, { origin: origin() });
    clock.offsetMs = 301_000;
    expect(await flow.post('passkey/finish', { credential })).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    expect(await audits(user.id, 'authn.mfa.failed')).toHaveLength(1);
  });

  test('a disabled account’s passkey signs no one in: the same 401 as a wrong passkey', async () => {
    const { user, authenticator } = await userWithPasskey('pk-disabled');
    await idp.container.accounts.update(user.id, { status: 'disabled' });
    const flow = await beginAuth(config);
    const options = await flow.post('passkey/begin');
    const answer = await flow.post('passkey/finish', { credential: await authenticator.get(options.body, { origin: origin() }) });
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_code', error_description: 'the code is not valid' } });
  });

  test('acr_values=aal3 with only a synced passkey: the relying party hears unmet_authentication_requirements', async () => {
    const { user } = await userWithPasskey('pk-aal3-synced', { kind: 'synced' });
    const flow = await beginAuth(config, { params: { acr_values: 'aal3' } });
    const login = await flow.post('login', { username: user.username, password: PASSWORD });
    expect(login.body).toEqual({ status: 'aborted', redirect_to: expect.any(String) });
    const callback = await flow.browser.follow(new URL(login.body.redirect_to, idp.url), (u) => u.pathname === '/cb');
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
  });
});
