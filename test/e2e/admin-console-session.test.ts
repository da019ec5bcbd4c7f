/**
 * The console session's lifetime on the IdP's clock: it idles out after 15 minutes without a request
 * and ends 8 hours after sign-in however busy it is, and it ends at once when the database no longer
 * says the user is an administrator. Signed in through the IdP's JSON interaction (password, TOTP).
 */
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock, MINUTE, PASSWORD, codeAt, newUser, seedTotp } from '../helpers/mfa-flow.js';
import { apiClient } from '../helpers/api.js';

const clock = new FakeClock();
let idp: TestIdp;
const api = apiClient(() => idp.url);

beforeAll(async () => {
  idp = await startTestIdp('admin-console-session', 'postgres+redis', {}, { clock });
}, 60_000);
afterAll(async () => {
  await idp?.stop();
});
afterEach(() => clock.reset());

/** A fresh administrator signed in to the console: the browser holding the session and the page's CSRF token. */
async function signedIn(): Promise<{ browser: Browser; csrf: string; userId: string }> {
  const admin = await newUser(idp.url, 'console-admin', { roles: ['admin'] });
  const secret = await seedTotp(idp.container, admin.id);
  const browser = new Browser();
  const start = await browser.fetch(`${idp.url}/admin/login`);
  const interaction = await browser.follow(new URL(start.headers.get('location')!), (u) => u.pathname.startsWith('/interaction/'));
  expect((await browser.json(`${interaction.href}/login`, { username: admin.username, password: PASSWORD })).body.status).toBe('mfa_required');
  const mfa = await browser.json(`${interaction.href}/mfa/totp`, { code: await codeAt(secret, clock.now()) });
  expect(mfa.body.status).toBe('success');
  const callback = await browser.follow(new URL(mfa.body.redirect_to as string, idp.url), (u) => u.pathname === '/admin/callback');
  const landed = await browser.fetch(callback);
  expect(landed.status).toBe(302);
  expect(landed.headers.get('location')).toBe('/admin/');
  const html = await (await browser.fetch(`${idp.url}/admin/`, { headers: { accept: 'text/html' } })).text();
  const data = JSON.parse(/<script type="application\/json" id="admin-data">([^<]*)<\/script>/.exec(html)![1]!) as { csrf: string };
  return { browser, csrf: data.csrf, userId: admin.id };
}

const usersStatus = async (s: { browser: Browser; csrf: string }) =>
  (await s.browser.fetch(`${idp.url}/api/v1/users`, { headers: { accept: 'application/json', 'x-csrf-token': s.csrf } })).status;

test('idle for more than 15 minutes, the session is over (401); used within them, it goes on', async () => {
  const s = await signedIn();
  clock.advance(14 * MINUTE);
  expect(await usersStatus(s)).toBe(200);
  clock.advance(14 * MINUTE);
  expect(await usersStatus(s)).toBe(200);
  clock.advance(16 * MINUTE);
  expect(await usersStatus(s)).toBe(401);
  // Over for good: going back within the idle window of the last use does not revive it.
  clock.advance(-10 * MINUTE);
  expect(await usersStatus(s)).toBe(401);
}, 60_000);

test('8 hours after sign-in the session ends, however busy', async () => {
  const s = await signedIn();
  for (let minutes = 10; minutes < 8 * 60; minutes += 10) {
    clock.advance(10 * MINUTE);
    expect(await usersStatus(s)).toBe(200);
  }
  clock.advance(10 * MINUTE);
  expect(await usersStatus(s)).toBe(401);
}, 120_000);

test('taking the admin role away, or disabling the account, ends the console session at once', async () => {
  const a = await signedIn();
  expect(await usersStatus(a)).toBe(200);
  expect((await api('PATCH', `/users/${a.userId}`, { user: { roles: [] } }, ADMIN_KEY)).status).toBe(200);
  expect(await usersStatus(a)).toBe(401);

  const b = await signedIn();
  expect((await api('PATCH', `/users/${b.userId}`, { user: { status: 'disabled' } }, ADMIN_KEY)).status).toBe(200);
  expect(await usersStatus(b)).toBe(401);
}, 60_000);
