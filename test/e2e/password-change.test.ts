import { apiClient, expectJsonError } from '../helpers/api.js';
import { startLogoutReceiver } from '../helpers/backchannel.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, discover, oc, passwordSteps, refreshWorks, registerClient } from '../helpers/rp.js';
import { userMaker } from '../helpers/sessions.js';

let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
let config: oc.Configuration;
const api = apiClient(() => idp.url);

const MAX_FAILURES = 4;
const ATTEMPTS_PER_MINUTE = 5;

beforeAll(async () => {
  idp = await startTestIdp('password-change', 'postgres+redis', {
    rateLimit: { loginPerIpPerMinute: 10_000 },
    mfa: { attemptsPerChallenge: ATTEMPTS_PER_MINUTE },
  });
  await idp.container.settings.patchGlobal({ lockout: { max_failures: MAX_FAILURES } });
  rp = await startLogoutReceiver();
  const client = await registerClient(idp.url, { first_party: true, backchannel_logout_uri: `${rp.url}/bc`, backchannel_logout_session_required: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
}, 30_000);
afterAll(async () => {
  await rp.close();
  await idp.stop();
});

const newUser = userMaker(() => idp.url, 'pw-user', 'old password');
type Person = Awaited<ReturnType<typeof newUser>>;

const signIn = async (person: Person, password = person.password, browser = new Browser()) => {
  const { tokens } = await authorize(config, { browser, params: { prompt: 'consent' }, onStep: passwordSteps(person.username, password) });
  return { browser, tokens };
};
const me = async (browser: Browser) => (await browser.json(`${idp.url}/api/v1/me`)).status;
const change = (browser: Browser, body: unknown) => browser.json(`${idp.url}/api/v1/me/password`, body);
const failedAttempts = async (id: string) => (await idp.container.accounts.findById(id))!.failedAttempts;
const events = (userId: string, type: string) =>
  idp.container.db.selectFrom('auditEvents').select(['actor', 'data']).where('subject', '=', userId).where('type', '=', type).execute();

test('a password change ends the other sessions (logout token, offline refresh token revoked) and trusted devices, not the current session', async () => {
  const person = await newUser();
  const { browser: here, tokens: hereTokens } = await signIn(person);
  const { browser: there, tokens: thereTokens } = await signIn(person);
  await idp.container.devices.issue(person.id, 30, { ip: '127.0.0.1' });
  const before = rp.received.length;

  const r = await change(here, { current_password: person.password, new_password: 'a brand new passphrase' });
  expect(r.status).toBe(204);

  expect(await me(here)).toBe(200);
  expect(await me(there)).toBe(401);
  expect(await refreshWorks(config, hereTokens.refresh_token!)).toBe(true);
  expect(await refreshWorks(config, thereTokens.refresh_token!)).toBe(false);
  expect(await rp.waitFor(before + 1)).toHaveLength(before + 1);
  expect(await idp.container.devices.list(person.id)).toEqual([]);

  expect(await events(person.id, 'user.password.changed')).toEqual([{ actor: `user:${person.id}`, data: { via: 'self_service' } }]);
  expect((await events(person.id, 'authn.sessions.ended'))[0]!.data).toMatchObject({ count: 1, reason: 'user.password.changed' });
  // The new password signs in; the old one no longer does.
  await expect(signIn(person)).rejects.toThrow(/login failed: 401/);
  expect(await me((await signIn(person, 'a brand new passphrase')).browser)).toBe(200);
});

test('a wrong current password is a 401 that counts toward the same lockout as sign-in, and changes nothing', async () => {
  const person = await newUser();
  const { browser } = await signIn(person);
  const { browser: other } = await signIn(person);
  for (let i = 1; i < MAX_FAILURES; i++) {
    expectJsonError(await change(browser, { current_password: `wrong ${i}`, new_password: 'never stored passphrase' }), 401, 'invalid_credentials');
    expect(await failedAttempts(person.id)).toBe(i);
  }
  expect(await me(other)).toBe(200);
  expect(await events(person.id, 'user.password.change_failed')).toHaveLength(MAX_FAILURES - 1);
  // The last guess of the budget locks the account: then not even the right password is compared.
  expectJsonError(await change(browser, { current_password: 'wrong again', new_password: 'never stored passphrase' }), 401, 'invalid_credentials');
  expect((await idp.container.accounts.findById(person.id))!.lockedUntil).not.toBeNull();
  expectJsonError(await change(browser, { current_password: person.password, new_password: 'never stored passphrase' }), 401, 'invalid_credentials');
  expect(await me(other)).toBe(200);
  await expect(signIn(person)).rejects.toThrow(/login failed: 401/);
  const reasons = (await events(person.id, 'user.password.change_failed')).map((e) => (e.data as { reason: string }).reason);
  expect(reasons).toEqual([...Array<string>(MAX_FAILURES).fill('wrong_password'), 'account_locked']);
});

test('a right current password clears the failure count, as a sign-in does', async () => {
  const person = await newUser();
  const { browser } = await signIn(person);
  expectJsonError(await change(browser, { current_password: 'wrong', new_password: 'never stored passphrase' }), 401, 'invalid_credentials');
  expect(await failedAttempts(person.id)).toBe(1);
  expect((await change(browser, { current_password: person.password, new_password: 'the next passphrase' })).status).toBe(204);
  expect(await failedAttempts(person.id)).toBe(0);
});

test('concurrent wrong guesses cannot exceed the lockout budget', async () => {
  const person = await newUser();
  const { browser } = await signIn(person);
  const answers = await Promise.all(
    Array.from({ length: ATTEMPTS_PER_MINUTE }, (_, i) => change(browser, { current_password: `guess ${i}`, new_password: 'never stored passphrase' })),
  );
  expect(answers.every((a) => a.status === 401)).toBe(true);
  expect(await failedAttempts(person.id)).toBe(MAX_FAILURES);
});

test('the same password again, or one shorter than the policy, is a 400 and changes nothing', async () => {
  const person = await newUser();
  const { browser } = await signIn(person);
  const { browser: other } = await signIn(person);
  expectJsonError(await change(browser, { current_password: person.password, new_password: person.password }), 400, 'invalid_request', 'new_password');
  expectJsonError(await change(browser, { current_password: person.password, new_password: 'short' }), 400, 'invalid_request', 'new_password');
  expectJsonError(await change(browser, { current_password: person.password, new_password: 'x'.repeat(2000) }), 400, 'invalid_request', 'new_password');
  expectJsonError(await change(browser, { current_password: person.password, new_password: 'long enough one', extra: 1 }), 400, 'invalid_request');
  expectJsonError(await change(browser, {}), 400, 'invalid_request');
  expect(await me(other)).toBe(200);
  expect(await failedAttempts(person.id)).toBe(0);
  expect(await events(person.id, 'user.password.changed')).toEqual([]);
});

test('a cookie-authenticated form post needs the CSRF token; without it nothing is compared or changed', async () => {
  const person = await newUser();
  const { browser } = await signIn(person);
  const post = (extra: Record<string, string> = {}) =>
    browser.fetch(`${idp.url}/api/v1/me/password`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ current_password: person.password, new_password: 'forged passphrase', ...extra }).toString(),
    });
  const forged = await post();
  expect(forged.status).toBe(403);
  expect(((await forged.json()) as { error: string }).error).toBe('invalid_csrf_token');
  expect((await post({ csrf: 'not the token' })).status).toBe(403);
  await expect(signIn(person, 'forged passphrase')).rejects.toThrow(/login failed: 401/);

  const csrf = (await browser.json(`${idp.url}/api/v1/me`)).body.csrf_token as string;
  expect((await post({ csrf })).status).toBe(204);
  expect(await me((await signIn(person, 'forged passphrase')).browser)).toBe(200);
});

test('guesses are rate limited per user before anything is compared', async () => {
  const person = await newUser();
  await idp.container.settings.patchGlobal({ lockout: { max_failures: 100 } });
  try {
    const { browser } = await signIn(person);
    const statuses: number[] = [];
    for (let i = 0; i <= ATTEMPTS_PER_MINUTE; i++)
      statuses.push((await change(browser, { current_password: `guess ${i}`, new_password: 'never stored passphrase' })).status);
    expect(statuses).toEqual([...Array<number>(ATTEMPTS_PER_MINUTE).fill(401), 429]);
    expect(await failedAttempts(person.id)).toBe(ATTEMPTS_PER_MINUTE);
  } finally {
    await idp.container.settings.patchGlobal({ lockout: { max_failures: MAX_FAILURES } });
  }
});

test('without a session there is nothing to change; an API key is not a user', async () => {
  expectJsonError(await new Browser().json(`${idp.url}/api/v1/me/password`, { current_password: 'a', new_password: 'b long enough' }), 401);
  expect((await api('POST', '/me/password', { current_password: 'a', new_password: 'b long enough' })).status).toBe(401);
});
