/**
 * The hosted sign-in pages in a real browser (headless Chromium), as a person uses them: the app's
 * name and logo, what consent means in words, English and German, the organisation's branding,
 * errors tied to the field to fix, Post/Redirect/Get (reload and Back show the step again, never a
 * resubmission or an error), the page of an interaction that is over, the signed-out and
 * "still signed in" pages, the trust-device duration. Every page passes the accessibility and
 * overflow check at desktop and phone widths. openid-client is the relying party.
 */
import { jest } from '@jest/globals';
import type { Page, Request } from 'playwright-core';
import { launchChromium, type AuthenticatorPage, type Chromium } from '../helpers/chromium.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, codeAt, newUser, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { expectUsableAtAllWidths } from '../helpers/page-checks.js';
import { REDIRECT_URI, authorizationRequest, discover, registerClient, type oc } from '../helpers/rp.js';

// A page is audited at two widths (axe-core): on a busy machine, seconds each.
jest.setTimeout(90_000);

const APP_NAME = 'Acme Notes';
const APP_LOGO = 'https://static.acme-notes.example/logo.png';

let idp: TestIdp;
let chrome: Chromium;
/** A third-party app with a name and a logo: it gets the consent step. */
let named: oc.Configuration;
let namedId: string;
/** A first-party app without a name: no consent. */
let nameless: oc.Configuration;
let namelessId: string;
let alice: { id: string; username: string };

async function settings(body: unknown) {
  const res = await fetch(`${idp.url}/api/v1/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  idp = await startTestIdp('hosted-pages', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const app = await registerClient(idp.url, { client_name: APP_NAME });
  // The admin API takes no logo; the client's registered metadata can carry one (OpenID Connect Dynamic Client Registration §2).
  const record = (await idp.container.clients.find(app.client_id))!;
  await idp.container.clients.update(app.client_id, { ...record, metadata: { ...record.metadata, logo_uri: APP_LOGO } });
  const first = await registerClient(idp.url, { first_party: true });
  named = await discover(idp.url, app.client_id, app.client_secret);
  nameless = await discover(idp.url, first.client_id, first.client_secret);
  namedId = app.client_id;
  namelessId = first.client_id;
  alice = await newUser(idp.url, 'hp-alice');
  await settings({ mfa: { trusted_device_duration_days: 30 } });
  chrome = await launchChromium();
}, 30_000);
afterAll(async () => {
  await chrome?.close();
  await idp?.stop();
});

/** A fresh browser context (no cookies), sending `headers` with every request. */
async function browserPage(headers: Record<string, string> = {}): Promise<AuthenticatorPage> {
  const p = await chrome.newPage();
  if (Object.keys(headers).length) await p.context.setExtraHTTPHeaders(headers);
  return p;
}

/**
 * Runs `lead`, which takes the page to the relying party's callback: the URL it was sent to. The
 * callback is unreachable (port 9, which Chromium refuses), so it is read from the failed request.
 */
async function toApp(page: Page, lead: () => Promise<unknown>): Promise<URL> {
  const failed = page.waitForEvent('requestfailed', { predicate: (r) => r.url().startsWith(REDIRECT_URI) });
  const settled = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() && f.url().startsWith('chrome-error:') });
  await lead();
  const [request] = await Promise.all([failed, settled]);
  return new URL(request.url());
}

/** Opens the relying party's authorization request: the sign-in page. */
async function openLogin(page: Page, config: oc.Configuration, params: Record<string, string> = {}, scope = 'openid email profile') {
  const request = await authorizationRequest(config, scope, params);
  await page.goto(request.url.href);
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
  return request;
}

/** Where the page is now, its <title> and its main heading. */
async function pageState(page: Page) {
  return {
    path: new URL(page.url()).pathname,
    title: await page.title(),
    heading: (await page.locator('h1').innerText()).trim(),
  };
}

/** The requests the page sends from now on (method and path). */
function requestsOf(page: Page) {
  const seen: string[] = [];
  const record = (r: Request) => {
    if (r.url().startsWith(idp.url)) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
  };
  page.on('request', record);
  return seen;
}

async function typeCredentials(page: Page, username: string, password: string) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.locator('form[action$="/login"] button[type="submit"]').click();
}

/** The page's text without its markup. */
const textOf = (page: Page) => page.locator('body').innerText();

describe('the sign-in page', () => {
  test("shows the app's name and logo, never its client id; its title matches its heading; usable at desktop and phone widths", async () => {
    const p = await browserPage();
    await openLogin(p.page, named);
    expect(await pageState(p.page)).toMatchObject({ title: 'Sign in – MFA IdP', heading: 'Sign in' });
    expect(await p.page.locator('.lead').innerText()).toBe(`to continue to ${APP_NAME}`);
    const logo = p.page.locator('main img.client-logo');
    expect(await logo.getAttribute('src')).toBe(APP_LOGO);
    expect(await logo.getAttribute('alt')).toBe(APP_NAME);
    expect(await p.page.content()).not.toContain(namedId);
    expect(await p.page.evaluate(() => document.documentElement.lang)).toBe('en');
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });

  test('an app without a name is "the application", and its client id is not shown either', async () => {
    const p = await browserPage();
    await openLogin(p.page, nameless);
    expect(await p.page.locator('.lead').innerText()).toBe('to continue to the application');
    expect(await p.page.locator('main img').count()).toBe(0);
    expect(await p.page.content()).not.toContain(namelessId);
    await p.close();
  });

  test('keyboard only (Tab and Enter): sign in, then allow on the consent page, which says what each scope means', async () => {
    const p = await browserPage();
    const { page } = p;
    await openLogin(page, named, { prompt: 'consent' }, 'openid profile email phone offline_access');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('username');
    await page.keyboard.type(alice.username);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await page.keyboard.type(PASSWORD);
    const loginUrl = page.url();
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/interaction/') && u.href !== loginUrl), page.keyboard.press('Enter')]);

    expect(await pageState(page)).toMatchObject({ title: 'Allow access – MFA IdP', heading: `Allow ${APP_NAME} to access your account?` });
    const scopes = await page.locator('ul.scopes li').allInnerTexts();
    expect(scopes).toEqual([
      'Confirm who you are when you sign in',
      'See your name and profile details (such as picture and language)',
      'See your e-mail address',
      'See your phone number',
      'Stay signed in to the app when you are away (offline access)',
    ]);
    expect(await page.content()).not.toContain(namedId);
    // The Deny button looks secondary: not the primary colour the Allow button has.
    const background = (name: string) => page.getByRole('button', { name }).evaluate((b) => getComputedStyle(b).backgroundColor);
    expect(await background('Deny')).not.toBe(await background('Allow'));
    await expectUsableAtAllWidths(page);

    // Allow has the focus: Enter gives consent.
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Allow');
    const callback = await toApp(page, () => page.keyboard.press('Enter'));
    expect(callback.searchParams.get('code')).toBeTruthy();
    await p.close();
  });

  test('a wrong password: the error is tied to the password field, with the lockout help; reload and Back show the sign-in again, never resubmit', async () => {
    const p = await browserPage();
    const { page } = p;
    await openLogin(page, named);
    const loginPath = new URL(page.url()).pathname;
    await typeCredentials(page, alice.username, 'not the password');
    await page.waitForSelector('#password-error');

    // Post/Redirect/Get: the answer is the step page by GET.
    expect(await pageState(page)).toMatchObject({ path: loginPath, heading: 'Sign in' });
    const password = page.locator('#password');
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect((await password.getAttribute('aria-describedby'))!.split(' ')).toEqual(['password-error', 'password-help']);
    expect(await page.locator('#password-error').innerText()).toBe('Invalid username or password.');
    expect(await page.locator('#password-help').innerText()).toContain('After several failed attempts, sign-in is paused for a while');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    // The name typed stays; the password does not.
    expect(await page.inputValue('#username')).toBe(alice.username);
    expect(await page.inputValue('#password')).toBe('');
    await expectUsableAtAllWidths(page);

    const sent = requestsOf(page);
    await page.reload();
    expect(await pageState(page)).toMatchObject({ path: loginPath, heading: 'Sign in' });
    expect(await textOf(page)).not.toMatch(/invalid_step|Error code/);
    await page.goBack();
    expect(await pageState(page)).toMatchObject({ path: loginPath, heading: 'Sign in' });
    expect(await textOf(page)).not.toMatch(/invalid_step|Error code/);
    // Neither went back to the server with the form.
    expect(sent.filter((r) => r.startsWith('POST /interaction/') && r.endsWith('/login'))).toEqual([]);

    // The sign-in still works from here.
    await typeCredentials(page, alice.username, PASSWORD);
    await page.waitForURL((u) => u.pathname.startsWith('/interaction/') && u.pathname !== loginPath);
    expect((await pageState(page)).heading).toBe(`Allow ${APP_NAME} to access your account?`);
    await p.close();
  });

  test('reload and Back on the consent step show the consent again; an interaction that is over offers to start again at the app', async () => {
    const p = await browserPage();
    const { page } = p;
    await openLogin(page, named);
    await typeCredentials(page, alice.username, PASSWORD);
    await page.waitForSelector('ul.scopes');
    const consentPath = new URL(page.url()).pathname;

    const sent = requestsOf(page);
    await page.reload();
    expect(await pageState(page)).toMatchObject({ path: consentPath, heading: `Allow ${APP_NAME} to access your account?` });
    // Back leads to the sign-in step, which is over: the browser is taken to the step it is at now.
    await page.goBack();
    expect(await pageState(page)).toMatchObject({ path: consentPath, heading: `Allow ${APP_NAME} to access your account?` });
    expect(await textOf(page)).not.toMatch(/invalid_step|invalid_request|Error code/);
    expect(sent.filter((r) => r.startsWith('POST '))).toEqual([]);

    await toApp(page, () => page.getByRole('button', { name: 'Allow' }).click());
    // Back from the app to the consent, which is over now.
    await page.goto(`${idp.url}${consentPath}`);
    expect(await pageState(page)).toMatchObject({ title: 'This sign-in has expired – MFA IdP', heading: 'This sign-in has expired' });
    const again = page.getByRole('link', { name: `Start again at ${APP_NAME}` });
    expect(await again.getAttribute('href')).toBe(new URL(REDIRECT_URI).origin);
    expect(await textOf(page)).not.toMatch(/invalid_request|Error code|\{/);
    await expectUsableAtAllWidths(page);
    await p.close();
  });

  test('an unknown interaction in a browser that remembers none: a plain explanation, no JSON and no error code', async () => {
    const p = await browserPage();
    const res = await p.page.goto(`${idp.url}/interaction/AAAAAAAAAAAAAAAAAAAAA`);
    expect(res!.headers()['content-type']).toMatch(/text\/html/);
    expect((await pageState(p.page)).heading).toBe('This sign-in has expired');
    expect(await textOf(p.page)).toContain('Go back to the app you came from and sign in again.');
    expect(await textOf(p.page)).not.toMatch(/invalid_request|Error code|\{/);
    expect(await p.page.locator('.error').count()).toBe(0);
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });
});

describe('languages', () => {
  const GERMAN = { title: 'Anmelden – MFA IdP', heading: 'Anmelden' };

  async function expectGerman(page: Page) {
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('de');
    expect(await pageState(page)).toMatchObject(GERMAN);
    expect(await page.locator('label[for="username"]').innerText()).toBe('Benutzername oder E-Mail-Adresse');
    expect(await page.locator('label[for="password"]').innerText()).toBe('Passwort');
    expect(await page.locator('.lead').innerText()).toBe(`um mit ${APP_NAME} fortzufahren`);
  }

  test('ui_locales=de gives the German sign-in page, also over an English browser; its errors are German too', async () => {
    const p = await browserPage({ 'accept-language': 'en-GB,en;q=0.9' });
    await openLogin(p.page, named, { ui_locales: 'de' });
    await expectGerman(p.page);
    await typeCredentials(p.page, alice.username, 'falsch');
    await p.page.waitForSelector('#password-error');
    expect(await p.page.locator('#password-error').innerText()).toBe('Benutzername oder Passwort ist falsch.');
    expect(await p.page.locator('#password-help').innerText()).toMatch(/^Nach mehreren Fehlversuchen/);
    await p.close();
  });

  test('Accept-Language: de gives the German sign-in page; ui_locales=en wins over it', async () => {
    const p = await browserPage({ 'accept-language': 'de-DE,de;q=0.9' });
    await openLogin(p.page, named);
    await expectGerman(p.page);
    await openLogin(p.page, named, { ui_locales: 'en' });
    expect(await p.page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect((await pageState(p.page)).heading).toBe('Sign in');
    await p.close();
  });

  test('German consent: the scopes in words', async () => {
    const p = await browserPage({ 'accept-language': 'de' });
    await openLogin(p.page, named, { prompt: 'consent' }, 'openid email offline_access');
    await typeCredentials(p.page, alice.username, PASSWORD);
    await p.page.waitForSelector('ul.scopes');
    expect(await pageState(p.page)).toMatchObject({ title: 'Zugriff erlauben – MFA IdP', heading: `Zugriff für ${APP_NAME} erlauben?` });
    expect(await p.page.locator('ul.scopes li').allInnerTexts()).toEqual([
      'Bei der Anmeldung bestätigen, wer Sie sind',
      'Ihre E-Mail-Adresse sehen',
      'In der App angemeldet bleiben, auch wenn Sie nicht da sind (Offline-Zugriff)',
    ]);
    expect(await p.page.getByRole('button', { name: 'Ablehnen' }).count()).toBe(1);
    await p.close();
  });
});

describe('sign-out pages', () => {
  /** Signs in to the first-party app in this browser context. */
  async function signedIn(p: AuthenticatorPage) {
    await openLogin(p.page, nameless);
    await toApp(p.page, () => typeCredentials(p.page, alice.username, PASSWORD));
  }
  const endSession = () => nameless.serverMetadata().end_session_endpoint!;

  test('RP-initiated logout: the confirmation, then "You are signed out" as a success notice, without an error code', async () => {
    const p = await browserPage();
    await signedIn(p);
    await p.page.goto(`${endSession()}?client_id=${namelessId}`);
    expect(await pageState(p.page)).toMatchObject({ title: 'Sign out – MFA IdP', heading: 'Sign out?' });
    await expectUsableAtAllWidths(p.page);
    await Promise.all([p.page.waitForURL(/\/session\/end\/success/), p.page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(await pageState(p.page)).toMatchObject({ title: 'You are signed out – MFA IdP', heading: 'You are signed out' });
    expect(await p.page.locator('.notice').innerText()).toContain('You can close this window.');
    expect(await p.page.locator('.error').count()).toBe(0);
    expect(await textOf(p.page)).not.toMatch(/Error code|signed_out/);
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });

  test('"Stay signed in" on the confirmation says "You are still signed in", and the session is still there', async () => {
    const p = await browserPage();
    await signedIn(p);
    await p.page.goto(`${endSession()}?client_id=${namelessId}`);
    await Promise.all([p.page.waitForURL(/\/session\/end\/success/), p.page.getByRole('button', { name: 'Stay signed in' }).click()]);
    expect((await pageState(p.page)).heading).toBe('You are still signed in');
    expect(await textOf(p.page)).not.toContain('You are signed out');
    await expectUsableAtAllWidths(p.page);
    // The session is still there: a new sign-in of any app of this browser needs no password.
    await openLogin(p.page, named);
    expect(await p.page.locator('#password').count()).toBe(0);
    expect((await pageState(p.page)).heading).toBe(`Allow ${APP_NAME} to access your account?`);
    await p.close();
  });

  test('the SAML logout page of a browser with no session says so, plainly', async () => {
    const p = await browserPage({ 'accept-language': 'de' });
    await p.page.goto(`${idp.url}/saml/logout`);
    expect(await pageState(p.page)).toMatchObject({ title: 'Sie sind nicht angemeldet – MFA IdP', heading: 'Sie sind nicht angemeldet' });
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });
});

describe('error pages', () => {
  test('the provider refuses a request: a title and words, the code small and muted, in the browser language', async () => {
    const p = await browserPage();
    await p.page.goto(`${idp.url}/auth?client_id=no-such-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`);
    expect(await pageState(p.page)).toMatchObject({ title: 'Sign-in request rejected – MFA IdP', heading: 'Sign-in request rejected' });
    expect(await p.page.locator('main p').first().innerText()).toMatch(/^The app sent a sign-in request/);
    const code = p.page.locator('p.muted.small', { hasText: 'Error code: invalid_client' });
    expect(await code.count()).toBe(1);
    expect(await p.page.locator('.error').count()).toBe(0);
    await expectUsableAtAllWidths(p.page);
    await p.page.setExtraHTTPHeaders({ 'accept-language': 'de' });
    await p.page.reload();
    expect((await pageState(p.page)).heading).toBe('Anmeldeanfrage abgelehnt');
    expect(await p.page.evaluate(() => document.documentElement.lang)).toBe('de');
    await p.close();
  });

  test('a page that does not exist: "Page not found", no red error text', async () => {
    const p = await browserPage();
    await p.page.goto(`${idp.url}/no/such/page`);
    expect(await pageState(p.page)).toMatchObject({ title: 'Page not found – MFA IdP', heading: 'Page not found' });
    expect(await p.page.locator('.error').count()).toBe(0);
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });
});

describe('later steps', () => {
  test('a wrong code on the challenge page: reload shows the challenge again; then the trust-device page says "30 days"', async () => {
    const user = await newUser(idp.url, 'hp-trust');
    const secret = await seedTotp(idp.container, user.id);
    const p = await browserPage();
    const { page } = p;
    await openLogin(page, nameless);
    const path = new URL(page.url()).pathname;
    await typeCredentials(page, user.username, PASSWORD);
    await page.waitForSelector('#code');
    await page.fill('#code', await wrongCode(secret));
    await page.locator('form[action$="/mfa/totp"] button[type="submit"]').click();
    await page.waitForSelector('#code[aria-invalid="true"]');
    expect(new URL(page.url()).pathname).toBe(path);
    const sent = requestsOf(page);
    await page.reload();
    expect(await page.locator('#code').count()).toBe(1);
    expect(await textOf(page)).not.toMatch(/invalid_step|Error code/);
    expect(sent.filter((r) => r.startsWith('POST '))).toEqual([]);

    await page.fill('#code', await codeAt(secret, Date.now()));
    await page.locator('form[action$="/mfa/totp"] button[type="submit"]').click();
    await page.waitForSelector('input[name="trust"]', { state: 'attached' });
    expect(await pageState(page)).toMatchObject({ path, title: 'Trust this device? – MFA IdP', heading: 'Trust this device?' });
    expect(await textOf(page)).toContain('for the next 30 days');
    await expectUsableAtAllWidths(page);
    await page.reload();
    expect((await pageState(page)).heading).toBe('Trust this device?');
    await toApp(page, () => page.getByRole('button', { name: 'Not now' }).click());
    await p.close();
  });

  test('the password change page: a mismatch is tied to the confirmation field; reload keeps the step', async () => {
    const user = await newUser(idp.url, 'hp-temp');
    const res = await fetch(`${idp.url}/api/v1/users/${user.id}/temporary-password`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(201);
    const { temporary_password: temporary } = (await res.json()) as { temporary_password: string };
    const p = await browserPage();
    const { page } = p;
    await openLogin(page, nameless);
    await typeCredentials(page, user.username, temporary);
    await page.waitForSelector('#new_password');
    expect(await pageState(page)).toMatchObject({ title: 'Choose a new password – MFA IdP', heading: 'Choose a new password' });
    await expectUsableAtAllWidths(page);
    await page.fill('#new_password', 'a brand new password');
    await page.fill('#confirm_password', 'another new password');
    await page.getByRole('button', { name: 'Change password and continue' }).click();
    await page.waitForSelector('#confirm_password-error');
    const confirm = page.locator('#confirm_password');
    expect(await confirm.getAttribute('aria-invalid')).toBe('true');
    expect(await confirm.getAttribute('aria-describedby')).toBe('confirm_password-error');
    expect(await page.locator('#confirm_password-error').innerText()).toBe('The two passwords do not match.');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm_password');
    await expectUsableAtAllWidths(page);
    await page.reload();
    expect((await pageState(page)).heading).toBe('Choose a new password');
    await p.close();
  });
});

describe('the one-time flash of a form post', () => {
  afterEach(async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: false } });
  });

  test('an enrolment code refused: the flash carries the error but never the key; the step page shows the same key again, the error once', async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    const user = await newUser(idp.url, 'hp-enrol');
    const flow = await beginAuth(nameless);
    const html = async () => (await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(await html())![1]!;
    const post = (path: string, fields: Record<string, string>) =>
      flow.browser.fetch(`${flow.interactionUrl!.href}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ csrf, ...fields }),
      });
    expect((await post('login', { username: user.username, password: PASSWORD })).status).toBe(303);
    const enrolment = await html();
    const secret = /<input id="totp-key" [^>]*value="([A-Z2-7]+)"/.exec(enrolment)![1]!;

    const refused = await post('enroll/totp/confirm', { code: await wrongCode(secret) });
    expect(refused.status).toBe(303);
    const flash = refused.headers.getSetCookie().find((c) => c.startsWith('idp_flash='))!;
    expect(flash).toMatch(new RegExp(`Path=${flow.interactionUrl!.pathname};`, 'i'));
    expect(flash.toLowerCase()).toContain('httponly');
    const carried = Buffer.from(flash.split(';')[0]!.slice('idp_flash='.length), 'base64url').toString('utf8');
    expect(carried).toContain('That code is not valid');
    expect(carried).not.toContain(secret);

    const shown = await html();
    expect(shown).toContain('That code is not valid');
    expect(shown).toContain(`value="${secret}"`);
    const reloaded = await html();
    expect(reloaded).not.toContain('That code is not valid');
    expect(reloaded).toContain(`value="${secret}"`);
  });
});

describe('dead ends go back to the app', () => {
  test('a sign-in rule that refuses the account: the browser is sent back to the app with access_denied, not left on an error page', async () => {
    const user = await newUser(idp.url, 'hp-denied');
    const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
    const rule = await fetch(`${idp.url}/api/v1/policy/rules`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'refuse one', condition: `user.username == "${user.username}"`, outcome: 'deny', priority: 1 }),
    });
    expect(rule.status).toBe(201);
    const { id } = (await rule.json()) as { id: string };
    try {
      const p = await browserPage();
      await openLogin(p.page, nameless);
      const callback = await toApp(p.page, () => typeCredentials(p.page, user.username, PASSWORD));
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('code')).toBeNull();
      await p.close();
    } finally {
      await fetch(`${idp.url}/api/v1/policy/rules/${id}`, { method: 'DELETE', headers });
    }
  });
});

describe('branding', () => {
  afterAll(async () => {
    await settings({ branding: { display_name: null, logo_url: null, primary_color: null, default_locale: 'en' } });
  });

  test("the organisation's name, logo and colour through the settings API; its default language when neither the app nor the browser asks for one", async () => {
    await settings({ branding: { display_name: 'Contoso', logo_url: 'https://cdn.contoso.example/logo.svg', primary_color: '#8a2be2', default_locale: 'de' } });
    const p = await browserPage({ 'accept-language': 'fr' });
    await openLogin(p.page, named);
    expect(await p.page.title()).toBe('Anmelden – Contoso');
    const logo = p.page.locator('header.brand img');
    expect(await logo.getAttribute('src')).toBe('https://cdn.contoso.example/logo.svg');
    expect(await logo.getAttribute('alt')).toBe('Contoso');
    const submit = p.page.locator('form[action$="/login"] button[type="submit"]');
    expect(await submit.evaluate((b) => getComputedStyle(b).backgroundColor)).toBe('rgb(138, 43, 226)');
    await expectUsableAtAllWidths(p.page);
    await p.close();
  });
});
