/**
 * The account console at /account in real Chromium, with JavaScript off: the sign-in through the
 * IdP's own login page, an authenticator app set up from the page alone, trusted devices and other
 * sessions revoked (the revoked session then signed out), a connected app's access withdrawn (its
 * refresh token refused), name and language saved (the pages then in German), every page usable at
 * desktop and phone widths, and a form post without its CSRF token refused with nothing changed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'otplib';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, type Chromium } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, PASSWORD, awayFromStepBoundary, codeAt, newUser, seedTotp } from '../helpers/mfa-flow.js';
import { lastCodeTo, otherCode } from '../helpers/otp.js';
import { auditsAt, expectUsablePage, WIDTHS } from '../helpers/page-checks.js';
import { authorize, discover, passwordSteps, refreshWorks, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let chrome: Chromium;
let dataDir: string;
const clock = new FakeClock();

beforeAll(async () => {
  // The outbox (no SMTP here) keeps the e-mails under the data directory, where the test reads their codes.
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-account-'));
  idp = await startTestIdp(
    'account-console',
    'postgres+redis',
    { dataDir, mfa: { recentAuthSeconds: 300 }, rateLimit: { loginPerIpPerMinute: 10_000 } },
    { clock },
  );
  // E-mail codes and security questions are the operator's to allow; here they are, so their parts of the pages show.
  await idp.container.settings.patchGlobal({ mfa: { allowed_methods: ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'prompt', 'email', 'questions'] } });
  chrome = await launchChromium();
}, 30_000);
afterAll(async () => {
  await chrome?.close();
  await idp?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A browser context with JavaScript off: every form of the console must work as plain HTML. */
const submit = (page: Page, selector: string) => Promise.all([page.waitForNavigation(), page.click(selector)]);

async function noScript(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chrome.browser.newContext({ javaScriptEnabled: false });
  context.setDefaultTimeout(10_000);
  return { context, page: await context.newPage() };
}

beforeEach(() => clock.reset());

/** Opens /account, which leads to the IdP's own sign-in page, and signs in there: the password, then the TOTP code when given a secret. */
async function signIn(page: Page, username: string, totpSecret?: string): Promise<void> {
  await page.goto(`${idp.url}/account`);
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  if (!totpSecret) {
    await Promise.all([page.waitForURL(`${idp.url}/account`), page.click('button:has-text("Sign in")')]);
    return;
  }
  await submit(page, 'button:has-text("Sign in")');
  await awayFromStepBoundary(clock);
  await page.fill('#code', await codeAt(totpSecret, clock.now()));
  await submit(page, 'button:has-text("Verify")');
  if (new URL(page.url()).pathname.startsWith('/interaction/')) await submit(page, 'button:has-text("Not now")');
  expect(page.url()).toBe(`${idp.url}/account`);
}

test('signing in leads to the overview, named in the navigation as the current page; the callback takes its code', async () => {
  const user = await newUser(idp.url, 'acct-signin');
  const { context, page } = await noScript();
  const callbacks: URL[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname === '/account/callback') callbacks.push(url);
  });
  await signIn(page, user.username);
  await expect(page.locator('h1').textContent()).resolves.toContain(user.username);
  await expect(page.locator('nav a[aria-current="page"]').getAttribute('href')).resolves.toBe('/account');
  await expect(page.locator('nav a[aria-current="page"]').textContent()).resolves.toBe('Overview');
  // The code the callback got back is taken there: nobody can redeem it.
  expect(callbacks).toHaveLength(1);
  const code = await idp.container.providers.current.AuthorizationCode.find(callbacks[0]!.searchParams.get('code')!);
  expect(code).toBeDefined();
  expect(code!.isValid).toBe(false);
  // A callback this browser did not start leads nowhere.
  await page.goto(`${idp.url}/account/callback?state=forged&code=x`);
  await expect(page.locator('body').textContent()).resolves.toContain('invalid_request');
  // Signing out (the provider asks first) ends the session: the console then asks for a sign-in.
  await page.goto(`${idp.url}/account`);
  await submit(page, 'nav a:has-text("Sign out")');
  await submit(page, 'button[value="yes"]');
  await page.goto(`${idp.url}/account`);
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await context.close();
});

test('an authenticator app is set up from the page without JavaScript: key shown in groups of four, code confirmed, TOTP enrolled', async () => {
  const user = await newUser(idp.url, 'acct-totp');
  const { context, page } = await noScript();
  await signIn(page, user.username);
  await page.goto(`${idp.url}/account/security`);
  await submit(page, 'button:has-text("Set up an authenticator app")');
  const shown = (await page.locator('#totp-key').textContent())!.trim();
  expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  await expect(page.locator('img[alt="QR code for your authenticator app"]').getAttribute('src')).resolves.toMatch(/^data:image\/png;base64,/);
  await awayFromStepBoundary();
  await page.fill('#code', await generate({ secret: shown.replace(/ /g, '') }));
  await submit(page, 'button:has-text("Confirm")');
  expect(page.url()).toBe(`${idp.url}/account/security?done=totp_enrolled`);
  await expect(page.locator('[role=status]').textContent()).resolves.toBe('Your authenticator app is set up.');
  expect(await idp.container.factorManagement.summary(user.id)).toMatchObject({ methods: expect.arrayContaining(['totp']), totp: { enrolled: true } });
  await context.close();
});

test('a trusted device and another session are revoked without JavaScript; the revoked session no longer reaches the console', async () => {
  const user = await newUser(idp.url, 'acct-revoke');
  const { token } = await idp.container.devices.issue(user.id, 30, { name: 'Old laptop', ip: '198.51.100.7' });
  expect(token).toBeTruthy();
  const mine = await noScript();
  const other = await noScript();
  await signIn(other.page, user.username);
  await signIn(mine.page, user.username);

  await mine.page.goto(`${idp.url}/account/devices`);
  await expect(mine.page.locator('li[data-device]').count()).resolves.toBe(1);
  await submit(mine.page, 'li[data-device] button:has-text("Revoke")');
  expect(mine.page.url()).toBe(`${idp.url}/account/devices?done=device_revoked`);
  await expect(mine.page.locator('li[data-device]').count()).resolves.toBe(0);
  expect(await idp.container.devices.list(user.id)).toEqual([]);

  await mine.page.goto(`${idp.url}/account/sessions`);
  await expect(mine.page.locator('li[data-session]').count()).resolves.toBe(2);
  await expect(mine.page.locator('li[data-session][aria-current="true"]').textContent()).resolves.toContain('This session');
  await submit(mine.page, 'li[data-session]:not([aria-current]) button:has-text("Revoke")');
  expect(mine.page.url()).toBe(`${idp.url}/account/sessions?done=session_revoked`);
  await expect(mine.page.locator('li[data-session]').count()).resolves.toBe(1);
  await expect(mine.page.locator('li[data-session][aria-current="true"]').count()).resolves.toBe(1);

  // The other browser still holds its cookie, which names an ended session: the console sends it to sign in.
  await other.page.goto(`${idp.url}/account/sessions`);
  expect(new URL(other.page.url()).pathname).toMatch(/^\/interaction\//);
  await expect(other.page.locator('#password').count()).resolves.toBe(1);
  // This browser's own session lives on.
  await mine.page.goto(`${idp.url}/account`);
  expect(mine.page.url()).toBe(`${idp.url}/account`);
  await Promise.all([mine.context.close(), other.context.close()]);
});

test('a connected app is listed by its name and its access revoked: its refresh token stops working', async () => {
  const user = await newUser(idp.url, 'acct-apps');
  const client = await registerClient(idp.url, { first_party: true, client_name: 'Team Portal' });
  const rp = await discover(idp.url, client.client_id, client.client_secret);
  const { tokens } = await authorize(rp, { params: { prompt: 'consent' }, onStep: passwordSteps(user.username, PASSWORD) });
  expect(await refreshWorks(rp, tokens.refresh_token!)).toBe(true);

  const { context, page } = await noScript();
  await signIn(page, user.username);
  await page.goto(`${idp.url}/account/apps`);
  const app = page.locator(`li[data-app="${client.client_id}"]`);
  await expect(app.locator('strong').textContent()).resolves.toBe('Team Portal');
  await submit(page, `li[data-app="${client.client_id}"] button`);
  expect(page.url()).toBe(`${idp.url}/account/apps?done=app_revoked`);
  await expect(page.locator('li[data-app]').count()).resolves.toBe(0);
  expect(await refreshWorks(rp, tokens.refresh_token!)).toBe(false);
  await context.close();
});

test('name and language are saved; the console is then in German', async () => {
  const user = await newUser(idp.url, 'acct-profile');
  const { context, page } = await noScript();
  await signIn(page, user.username);
  await page.goto(`${idp.url}/account/profile`);
  await page.fill('#name', 'Erika Mustermann');
  await page.selectOption('#locale', 'de');
  await submit(page, 'button:has-text("Save profile")');
  expect(page.url()).toBe(`${idp.url}/account/profile?done=profile_saved`);
  await expect(page.locator('html').getAttribute('lang')).resolves.toBe('de');
  await expect(page.locator('[role=status]').textContent()).resolves.toBe('Ihr Profil ist gespeichert.');
  await expect(page.locator('nav a[aria-current="page"]').textContent()).resolves.toBe('Profil');
  await page.goto(`${idp.url}/account`);
  await expect(page.locator('h1').textContent()).resolves.toBe('Hallo, Erika Mustermann');
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: 'Erika Mustermann', locale: 'de' });
  await context.close();
});

/**
 * A user with TOTP signed in without script, whose second factor is no longer recent, asking for new
 * backup codes: the change that asks for a step-up.
 */
async function askingForStepUp(label: string) {
  const user = await newUser(idp.url, label);
  const secret = await seedTotp(idp.container, user.id);
  const { context, page } = await noScript();
  await signIn(page, user.username, secret);
  clock.advance(10 * MINUTE);
  await page.goto(`${idp.url}/account/security`);
  await submit(page, 'button:has-text("Make new backup codes")');
  return { user, secret, context, page };
}

test('backup codes are regenerated after the step-up the change asks for (a TOTP code, no JavaScript); the new codes are shown once', async () => {
  const { user, secret, context, page } = await askingForStepUp('acct-stepup');
  expect(page.url()).toBe(`${idp.url}/account/step-up?return=%2Faccount%2Fsecurity`);
  expect(await idp.container.factorManagement.summary(user.id)).toMatchObject({ backup_codes: { remaining: 0 } });

  await awayFromStepBoundary(clock);
  await page.fill('#code', await codeAt(secret, clock.now(), 1));
  await submit(page, 'button:has-text("Continue")');
  expect(page.url()).toBe(`${idp.url}/account/security?done=stepped_up`);
  await submit(page, 'button:has-text("Make new backup codes")');
  const codes = await page.locator('.account-codes code').allTextContents();
  expect(codes.length).toBeGreaterThanOrEqual(8);
  expect(await idp.container.factorManagement.summary(user.id)).toMatchObject({ backup_codes: { remaining: codes.length } });
  await page.goto(`${idp.url}/account`);
  await expect(page.locator('main').textContent()).resolves.toContain(`${codes.length} backup codes left`);
  await expect(page.locator('main').textContent()).resolves.not.toContain(codes[0]!);
  await context.close();
});

test('the step-up can also be a new sign-in with a second factor (prompt=login, acr_values=aal2), which leads back to the page', async () => {
  const { user, secret, context, page } = await askingForStepUp('acct-reauth');
  await submit(page, 'a:has-text("Or sign in again")');
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await page.fill('#password', PASSWORD);
  if ((await page.locator('#username').getAttribute('readonly')) === null) await page.fill('#username', user.username);
  await submit(page, 'button[type=submit]:not(.muted)');
  await awayFromStepBoundary(clock);
  await page.fill('#code', await codeAt(secret, clock.now(), 1));
  await submit(page, 'button:has-text("Verify")');
  if (new URL(page.url()).pathname.startsWith('/interaction/')) await submit(page, 'button:has-text("Not now")');
  expect(page.url()).toBe(`${idp.url}/account/security`);
  await submit(page, 'button:has-text("Make new backup codes")');
  await expect(page.locator('.account-codes code').count()).resolves.toBeGreaterThanOrEqual(8);
  await context.close();
});

test('an e-mail address is added and verified with the code sent there, without JavaScript; a wrong code is an error on the field', async () => {
  const user = await newUser(idp.url, 'acct-dest');
  const address = `${user.username}@example.test`;
  const { context, page } = await noScript();
  await signIn(page, user.username);
  await page.goto(`${idp.url}/account/security`);
  await page.click('summary:has-text("Add a phone number or e-mail address")');
  await page.selectOption('#kind', 'email');
  await page.fill('#value', address);
  await submit(page, 'button:has-text("Add and send a code")');
  expect(new URL(page.url()).pathname).toMatch(/^\/account\/security\/destinations\/[0-9a-f-]{36}$/);
  const { code } = await lastCodeTo(dataDir, address);

  await page.fill('#code', otherCode(code));
  await submit(page, 'button:has-text("Verify")');
  await expect(page.locator('#code').getAttribute('aria-invalid')).resolves.toBe('true');
  await expect(page.locator('#code-error').textContent()).resolves.toBe('That code is not right. Check it and try again.');

  await page.fill('#code', code);
  await submit(page, 'button:has-text("Verify")');
  expect(page.url()).toBe(`${idp.url}/account/security?done=destination_verified`);
  const [destination] = await idp.container.destinations.list(user.id);
  expect(destination).toMatchObject({ type: 'email', verified: true });
  await expect(page.locator('#destinations ~ ul li').textContent()).resolves.toContain('verified');
  await context.close();
});

test('a passkey is added with the page’s script, then renamed and removed without it; the session it proved ends with it', async () => {
  const user = await newUser(idp.url, 'acct-passkey');
  const withScript = await chrome.newPage();
  await signIn(withScript.page, user.username);
  await withScript.page.goto(`${idp.url}/account/security`);
  await submit(withScript.page, 'button:has-text("Add a passkey")');
  await withScript.page.fill('#passkey-name', 'Laptop');
  await submit(withScript.page, 'button:has-text("Create passkey")');
  expect(withScript.page.url()).toBe(`${idp.url}/account/security?done=passkey_added`);
  const [created] = await idp.container.factorManagement.listCredentials((await idp.container.accounts.findById(user.id))!, 'passkey');
  expect(created).toMatchObject({ name: 'Laptop' });
  const id = created!.id as string;
  await expect(withScript.credentials()).resolves.toHaveLength(1);

  // The same session's cookie in a browser without script.
  const { context, page } = await noScript();
  await context.addCookies(await withScript.context.cookies());
  await page.goto(`${idp.url}/account/security`);
  await page.fill(`#rename-${id}`, 'Work laptop');
  await submit(page, 'button:has-text("Rename")');
  expect(page.url()).toBe(`${idp.url}/account/security?done=passkey_renamed`);
  await expect(page.locator('#passkeys ~ ul strong').textContent()).resolves.toBe('Work laptop');
  await submit(page, 'button[aria-label="Remove: Work laptop"]');
  // Creating it proved a second factor in this session, which therefore ends with it (as through the API): sign in again.
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await expect(idp.container.factorManagement.listCredentials((await idp.container.accounts.findById(user.id))!, 'passkey')).resolves.toEqual([]);
  await Promise.all([context.close(), withScript.close()]);
});

test('a form post without its CSRF token is refused and changes nothing', async () => {
  const user = await newUser(idp.url, 'acct-csrf');
  const { context, page } = await noScript();
  await signIn(page, user.username);
  await page.goto(`${idp.url}/account/profile`);
  // The same form, its token taken out (as a cross-site page would post it).
  const res = await context.request.post(`${idp.url}/account/profile`, { form: { name: 'Mallory', locale: 'de' }, maxRedirects: 0 });
  expect(res.status()).toBe(403);
  expect(await res.text()).toContain('invalid_csrf_token');
  const wrong = await context.request.post(`${idp.url}/account/profile`, { form: { name: 'Mallory', csrf: 'x'.repeat(43) }, maxRedirects: 0 });
  expect(wrong.status()).toBe(403);
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: null, locale: null });
  // With the page's own token the same post goes through.
  const csrf = await page.locator('form[action="/account/profile"] input[name=csrf]').getAttribute('value');
  const ok = await context.request.post(`${idp.url}/account/profile`, { form: { name: 'Erika', csrf: csrf! }, maxRedirects: 0 });
  expect(ok.status()).toBe(303);
  expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: 'Erika' });
  await context.close();
});

test('every page is usable at desktop and phone widths (axe, no horizontal scroll)', async () => {
  const user = await newUser(idp.url, 'acct-pages');
  await idp.container.devices.issue(user.id, 30, { name: 'Work laptop', ip: '198.51.100.7' });
  // Axe runs as script in the page: this context has JavaScript.
  const context = await chrome.browser.newContext();
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await signIn(page, user.username);
  const paths = [
    '/account',
    '/account/profile',
    '/account/security',
    '/account/devices',
    '/account/sessions',
    '/account/apps',
    '/account/activity',
    '/account/step-up',
  ];
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    for (const path of paths) {
      await page.goto(`${idp.url}${path}`);
      expect(new URL(page.url()).pathname).toBe(path);
      await expectUsablePage(page, { audit: auditsAt(size) });
    }
    // The set-up page answers the post that made the key.
    await page.goto(`${idp.url}/account/security`);
    await submit(page, 'button:has-text("Set up an authenticator app")');
    await expect(page.locator('#totp-key').count()).resolves.toBe(1);
    await expectUsablePage(page, { audit: auditsAt(size) });
  }
  await context.close();
}, 180_000);
