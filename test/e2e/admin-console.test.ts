/**
 * The admin console in a real browser: administrators sign in to /admin through the IdP's own login
 * pages (password, then TOTP for AAL2), the console's scripts call the admin API with the console
 * session and its CSRF header, and what they change takes effect in the IdP (a relying party's next
 * login follows a policy changed there).
 */
import type { Page } from 'playwright-core';
import { apiClient } from '../helpers/api.js';
import { launchChromium, type AuthenticatorPage, type Chromium } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { PASSWORD, awayFromStepBoundary, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { auditsAt, expectUsablePage, WIDTHS } from '../helpers/page-checks.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let chrome: Chromium;
let rp: oc.Configuration;
const api = apiClient(() => idp.url);

interface Person {
  id: string;
  username: string;
  secret?: string;
}
let globalAdmin: Person;
let orgAdmin: Person;
let plainUser: Person;
let adminWithoutFactor: Person;
let acmeUser: Person;
let defaultUser: Person;
let acmeClientId: string;
let defaultClientId: string;

async function person(label: string, extra: Record<string, unknown> = {}, totp = true): Promise<Person> {
  const user = await newUser(idp.url, label, extra);
  return { ...user, ...(totp ? { secret: await seedTotp(idp.container, user.id) } : {}) };
}

beforeAll(async () => {
  idp = await startTestIdp('admin-console', 'postgres+redis');
  expect((await api('POST', '/organizations', { slug: 'acme', name: 'Acme' })).status).toBe(201);
  plainUser = await person('plain');
  adminWithoutFactor = await person('nofactor', { roles: ['admin'] }, false);
  acmeUser = await person('acme-user', { organization: 'acme' }, false);
  defaultUser = await person('default-user', {}, false);
  const acmeKey = await api('POST', '/api-keys', {
    name: 'acme',
    scopes: ['admin'],
    organization_id: (await api('GET', '/organizations/acme')).body.organization.id,
  });
  const acmeClient = await api('POST', '/clients', { client_name: 'Acme app', redirect_uris: ['http://127.0.0.1:9/cb'] }, acmeKey.body.key);
  acmeClientId = acmeClient.body.client_id;
  const client = await registerClient(idp.url, { first_party: true });
  defaultClientId = client.client_id;
  rp = await discover(idp.url, client.client_id, client.client_secret);
  chrome = await launchChromium();
}, 60_000);
// Administrators of their own per test: a TOTP code is good once, so signing the same person in again would wait for the next step.
beforeEach(async () => {
  globalAdmin = await person('root', { roles: ['admin'] });
  orgAdmin = await person('acme-admin', { roles: ['admin'], organization: 'acme' });
});
afterAll(async () => {
  await chrome?.close();
  await idp?.stop();
});

const STEP_MS = 30_000;
const lastStep = new Map<string, number>();
/** A TOTP step this person has not used yet (a used one is refused as a replay), away from the boundary. */
async function freshStep(who: Person): Promise<void> {
  await awayFromStepBoundary();
  const used = lastStep.get(who.id);
  if (used !== undefined && Math.floor(Date.now() / STEP_MS) <= used) {
    await new Promise((r) => setTimeout(r, (used + 1) * STEP_MS - Date.now() + 250));
    await awayFromStepBoundary();
  }
  lastStep.set(who.id, Math.floor(Date.now() / STEP_MS));
}

/** Opens /admin/login in a fresh context and signs in on the IdP's pages; TOTP when the person has it. */
async function signIn(who: Person): Promise<AuthenticatorPage> {
  const p = await chrome.newPage();
  const { page } = p;
  await page.goto(`${idp.url}/admin/login`);
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await page.fill('#username', who.username);
  await page.fill('#password', PASSWORD);
  await page.locator('form[action$="/login"] button[type="submit"]').click();
  if (who.secret) {
    await page.waitForSelector('#code');
    await freshStep(who);
    await page.fill('#code', await codeAt(who.secret, Date.now()));
    await page.locator('form[action$="/mfa/totp"] button[type="submit"]').click();
  }
  await page.waitForURL((u) => u.pathname.startsWith('/admin/'));
  return p;
}

/** The console's own API call from the page: its cookie, and the CSRF header unless `csrf` is false. */
function consoleFetch(page: Page, path: string, init: { method?: string; body?: unknown; csrf?: boolean } = {}) {
  return page.evaluate(
    async ({ path, init }) => {
      const data = JSON.parse(document.getElementById('admin-data')!.textContent);
      const res = await fetch(`/api/v1${path}`, {
        method: init.method ?? 'GET',
        headers: {
          accept: 'application/json',
          ...(init.csrf === false ? {} : { 'x-csrf-token': data.csrf }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    { path, init },
  );
}

async function open(page: Page, hash: string) {
  await page.goto(`${idp.url}/admin/#/${hash}`);
  await page.locator('#view h2').first().waitFor();
}

test('an administrator with TOTP signs in at AAL2 and reaches the console; the console session is a strict, httpOnly cookie', async () => {
  const p = await signIn(globalAdmin);
  try {
    await p.page.locator('#view h2').first().waitFor();
    expect(await p.page.locator('#admin-data').count()).toBe(1);
    const cookie = (await p.context.cookies()).find((c) => c.name === 'idp_admin');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const me = await consoleFetch(p.page, `/users/${globalAdmin.id}`);
    expect(me.status).toBe(200);
  } finally {
    await p.close();
  }
}, 60_000);

test('a user without the admin role is refused (403), and no console session is made', async () => {
  const p = await signIn(plainUser);
  try {
    expect(await p.page.locator('p.error[role="alert"]').textContent()).toContain('not an administrator');
    expect((await p.context.cookies()).find((c) => c.name === 'idp_admin')).toBeUndefined();
    const status = await p.page.evaluate(async () => (await fetch('/api/v1/users', { headers: { accept: 'application/json' } })).status);
    expect(status).toBe(401);
  } finally {
    await p.close();
  }
}, 60_000);

test('an administrator whose sign-in has no second factor is refused, even when the request left acr_values out', async () => {
  const browser = new Browser();
  const start = await browser.fetch(`${idp.url}/admin/login`);
  const auth = new URL(start.headers.get('location')!);
  expect(auth.searchParams.get('acr_values')).toBe('aal2');
  auth.searchParams.delete('acr_values');
  const interaction = await browser.follow(auth, (u) => u.pathname.startsWith('/interaction/'));
  const login = await browser.json(`${interaction.href}/login`, { username: adminWithoutFactor.username, password: PASSWORD });
  expect(login.status).toBe(200);
  const callback = await browser.follow(new URL(login.body.redirect_to, idp.url), (u) => u.pathname === '/admin/callback');
  const res = await browser.fetch(callback, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(403);
  expect(await res.text()).toContain('second factor');
  expect([...browser.cookies('localhost').keys()]).not.toContain('idp_admin');
}, 60_000);

test('the console creates a user, audited as the signed-in administrator; a cookie without the CSRF header is refused', async () => {
  const p = await signIn(globalAdmin);
  const { page } = p;
  try {
    await open(page, 'users');
    await page.locator('summary', { hasText: 'Create user' }).click();
    const create = page.locator('details form');
    await create.getByLabel('External ID').fill('made-in-console');
    await create.getByLabel('Username').fill('made-in-console');
    await create.getByLabel('Password').fill(PASSWORD);
    await create.locator('button[type="submit"]').click();
    await page.getByRole('link', { name: 'Open the new user' }).waitFor();
    const made = await idp.container.accounts.findByExternalId('made-in-console');
    expect(made?.username).toBe('made-in-console');
    const events = await api('GET', '/audit-events?type=admin.user.created&subject=' + made!.id);
    expect(events.body.events.map((e: { actor: string }) => e.actor)).toEqual([`user:${globalAdmin.id}`]);

    await open(page, 'users');
    await page.getByLabel('Username, e-mail or external ID').fill('made-in-*');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#view tbody tr').length === 1);
    expect(await page.locator('#view tbody').textContent()).toContain('made-in-console');

    const refused = await consoleFetch(page, '/users', { csrf: false });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'invalid_csrf_token', error_description: expect.any(String) });
    const wrong = await page.evaluate(
      async () => (await fetch('/api/v1/users', { headers: { accept: 'application/json', 'x-csrf-token': 'x'.repeat(43) } })).status,
    );
    expect(wrong).toBe(403);
    expect((await consoleFetch(page, '/users')).status).toBe(200);
  } finally {
    await p.close();
  }
}, 60_000);

test('the console registers a client with an MFA policy override and rotates its secret', async () => {
  const p = await signIn(globalAdmin);
  const { page } = p;
  try {
    await open(page, 'clients');
    await page.locator('summary', { hasText: 'Create' }).click();
    const create = page.locator('details form');
    await create.getByLabel('Name', { exact: true }).fill('Console app');
    await create.getByLabel('Redirect URIs', { exact: true }).fill('https://app.example/cb');
    await create.getByLabel('MFA policy override (JSON)').fill('{"policy": "otp"}');
    await create.locator('button[type="submit"]').click();
    const first = (await page.locator('details .key').textContent())!;
    expect(first.length).toBeGreaterThanOrEqual(32);
    const listed = (await api('GET', '/clients?limit=100')).body.clients.find((c: { client_name?: string }) => c.client_name === 'Console app');
    expect(listed.mfa_policy).toEqual({ policy: 'otp' });

    await open(page, `clients/${listed.client_id}`);
    await page.getByLabel('Issue a new client secret').check();
    await page.getByRole('button', { name: 'Save' }).click();
    const second = (await page.locator('#view .key').textContent())!;
    expect(second).not.toBe(first);
    const token = await fetch(`${idp.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${listed.client_id}:${second}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    // The new secret authenticates the client (it has no client_credentials grant: refused as such, not as a bad secret).
    expect(((await token.json()) as { error: string }).error).not.toBe('invalid_client');
  } finally {
    await p.close();
  }
}, 60_000);

test('an organisation administrator sees only their organisation, in the pages and through the API', async () => {
  const p = await signIn(orgAdmin);
  const { page } = p;
  try {
    await open(page, 'users');
    await page.locator('#view table').waitFor();
    await expect(page.locator('#view table').textContent()).resolves.toContain(acmeUser.username);
    await expect(page.locator('#view table').textContent()).resolves.not.toContain(defaultUser.username);

    const users = await consoleFetch(page, '/users?limit=200');
    expect(users.status).toBe(200);
    const names = users.body.users.map((u: { username: string }) => u.username);
    expect(names).toEqual(expect.arrayContaining([acmeUser.username, orgAdmin.username]));
    expect(names).not.toContain(defaultUser.username);
    expect(users.body.users.every((u: { organization: string }) => u.organization === 'acme')).toBe(true);
    expect((await consoleFetch(page, `/users/${defaultUser.id}`)).status).toBe(404);

    const clients = await consoleFetch(page, '/clients');
    const ids = clients.body.clients.map((c: { client_id: string }) => c.client_id);
    expect(ids).toContain(acmeClientId);
    expect(ids).not.toContain(defaultClientId);
    expect(ids).not.toContain('admin-console');
    expect((await consoleFetch(page, '/settings')).status).toBe(403);
    expect((await consoleFetch(page, '/organizations/default/settings')).status).toBe(404);
  } finally {
    await p.close();
  }
}, 60_000);

test('a policy changed in the console governs the next login of an ordinary user of that organisation', async () => {
  // The user signs in to a relying party; the organisation whose policy applies is the user's (acme).
  const acmeRp = rp;
  const before = await passwordStep(acmeRp, acmeUser.username, PASSWORD);
  expect(before.login.status).toBe(200);
  expect(before.login.body.status).toBe('success');

  const p = await signIn(orgAdmin);
  const { page } = p;
  try {
    await open(page, 'organizations');
    const mfa = page.locator('form', { has: page.getByRole('button', { name: 'Save Multi-factor authentication' }) });
    await mfa.getByLabel('Enforce enrolment').check();
    await mfa.getByRole('button', { name: 'Save Multi-factor authentication' }).click();
    await mfa.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  } finally {
    await p.close();
  }
  expect((await api('GET', '/organizations/acme/settings')).body.mfa.enforce_enrollment).toBe(true);
  expect((await api('GET', '/settings')).body.mfa.enforce_enrollment).toBe(false);

  const after = await passwordStep(acmeRp, acmeUser.username, PASSWORD);
  expect(after.login.status).toBe(200);
  expect(after.login.body.status).toBe('mfa_enrollment_required');
}, 60_000);

test('every console page is usable at desktop and phone widths, in English and German', async () => {
  const p = await signIn(globalAdmin);
  const { page } = p;
  try {
    const hashes = [
      'dashboard',
      'users',
      `users/${defaultUser.id}`,
      'clients',
      `clients/${defaultClientId}`,
      'saml',
      'organizations',
      'organizations/acme',
      'organizations/~global',
      'rules',
      'api_keys',
      'keys',
      'webhooks',
      'break_glass',
      'audit',
    ];
    for (const size of WIDTHS) {
      await page.setViewportSize(size);
      for (const hash of hashes) {
        await open(page, hash);
        await page.waitForLoadState('networkidle');
        expect({ hash, alerts: await page.locator('#view p.error[role="alert"]:visible').allTextContents() }).toEqual({ hash, alerts: [] });
        await expectUsablePage(page, { audit: auditsAt(size) });
      }
    }
    await page.setExtraHTTPHeaders({ 'accept-language': 'de' });
    await page.goto('about:blank');
    await open(page, 'users');
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    await expect(page.locator('#view h2').first().textContent()).resolves.toBe('Benutzer');
    await expectUsablePage(page);
  } finally {
    await p.close();
  }
  const signedOut = await chrome.newPage();
  try {
    for (const size of WIDTHS) {
      await signedOut.page.setViewportSize(size);
      await signedOut.page.goto(`${idp.url}/admin/`);
      await expectUsablePage(signedOut.page, { audit: auditsAt(size) });
    }
  } finally {
    await signedOut.close();
  }
}, 400_000);

test('signing out ends the console session and goes through the IdP logout', async () => {
  const p = await signIn(globalAdmin);
  const { page } = p;
  try {
    const csrf = await page.evaluate(() => (JSON.parse(document.getElementById('admin-data')!.textContent) as { csrf: string }).csrf);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname !== '/admin/');
    expect(new URL(page.url()).pathname).toMatch(/session\/end/);
    const after = await page.evaluate(
      async (token) => (await fetch('/api/v1/users', { headers: { accept: 'application/json', 'x-csrf-token': token } })).status,
      csrf,
    );
    expect(after).toBe(401);
  } finally {
    await p.close();
  }
}, 60_000);
