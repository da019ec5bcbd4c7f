/**
 * What the console stands on, through the API: the signed-in user's profile (`GET`/`PATCH
 * /api/v1/me/profile`: name and language, validated, audited, never another field), and the console's
 * own client, registered on first use as a public first-party client with PKCE.
 */
import { expectJsonError } from '../helpers/api.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { authorize, discover, passwordSteps, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let rp: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('account-console-api', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  rp = await discover(idp.url, client.client_id, client.client_secret);
}, 30_000);
afterAll(async () => {
  await idp?.stop();
});

async function signedIn(label: string) {
  const user = await newUser(idp.url, label);
  const browser = new Browser();
  await authorize(rp, { browser, onStep: passwordSteps(user.username, PASSWORD) });
  return { user, browser };
}

test('the profile is read and changed as JSON; the change is audited with the fields it touched', async () => {
  const { user, browser } = await signedIn('profile-api');
  const before = await browser.json(`${idp.url}/api/v1/me/profile`);
  expect(before.status).toBe(200);
  expect(before.body).toMatchObject({ name: null, locale: null, username: user.username });

  const changed = await browser.json(`${idp.url}/api/v1/me/profile`, { name: '  Ada Lovelace ', locale: 'de' }, 'PATCH');
  expect(changed.status).toBe(200);
  expect(changed.body).toMatchObject({ name: 'Ada Lovelace', locale: 'de' });
  const cleared = await browser.json(`${idp.url}/api/v1/me/profile`, { name: '', locale: null }, 'PATCH');
  expect(cleared.body).toMatchObject({ name: null, locale: null });

  const events = await idp.container.db
    .selectFrom('auditEvents')
    .select(['actor', 'data'])
    .where('subject', '=', user.id)
    .where('type', '=', 'user.profile.updated')
    .execute();
  expect(events).toHaveLength(2);
  expect(events[0]).toMatchObject({ actor: `user:${user.id}`, data: { via: 'self_service', fields: ['name', 'locale'] } });
  expect(JSON.stringify(events)).not.toContain('Ada');
});

test('bad input is a 400 naming the field, and changes nothing', async () => {
  const { user, browser } = await signedIn('profile-bad');
  const patch = (body: unknown) => browser.json(`${idp.url}/api/v1/me/profile`, body, 'PATCH');
  expectJsonError(await patch({ locale: 'fr' }), 400, 'invalid_request', 'locale');
  expectJsonError(await patch({ name: 'x'.repeat(201) }), 400, 'invalid_request', 'name');
  expectJsonError(await patch({ email: 'mallory@example.test' }), 400, 'invalid_request', 'email');
  expectJsonError(await patch({ name: 'a\u0000b' }), 400, 'invalid_request');
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: null, locale: null, email: null });
  // A form post (what a cross-site page can send) without the session's CSRF token changes nothing either.
  const form = await browser.fetch(`${idp.url}/api/v1/me/profile`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'name=Mallory',
  });
  expect(form.status).toBe(403);
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: null });
  // Without a session there is no profile.
  expectJsonError(await new Browser().json(`${idp.url}/api/v1/me/profile`), 401, 'login_required');
});

test('the console’s client is registered on first use: public, first-party, PKCE, its one redirect under /account', async () => {
  const start = await fetch(`${idp.url}/account/sign-in`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const to = new URL(start.headers.get('location')!);
  expect(to.searchParams.get('client_id')).toBe('account-console');
  expect(to.searchParams.get('code_challenge_method')).toBe('S256');
  expect(to.searchParams.get('state')).toBeTruthy();
  expect(start.headers.get('set-cookie')).toMatch(/idp_account_signin=.*path=\/account.*httponly/i);
  const res = await fetch(`${idp.url}/api/v1/clients/account-console`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(200);
  const client = (await res.json()) as Record<string, unknown>;
  expect(client).toMatchObject({ first_party: true, token_endpoint_auth_method: 'none', redirect_uris: [`${idp.url}/account/callback`] });
  // A second start finds it registered.
  expect((await fetch(`${idp.url}/account/sign-in`, { redirect: 'manual' })).status).toBe(302);
  // A page of the console without a session leads to the sign-in, back to that page; anywhere else is refused.
  const page = await fetch(`${idp.url}/account/sessions`, { redirect: 'manual', headers: { accept: 'text/html' } });
  expect(page.status).toBe(303);
  expect(page.headers.get('location')).toBe('/account/sign-in?return=%2Faccount%2Fsessions');
  const offsite = await fetch(`${idp.url}/account/sign-in?return=https://evil.example/account`, { redirect: 'manual' });
  expect(offsite.status).toBe(302);
  expect(offsite.headers.get('set-cookie')).toContain('"return":"/account"}');
});
