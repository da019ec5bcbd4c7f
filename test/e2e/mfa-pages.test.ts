/**
 * The second-step pages in a real browser (headless Chromium), as a user meets them: the challenge
 * page and the enrolment of an authenticator app, driven by the keyboard alone; the key in groups of
 * four and the otpauth link under the organisation's display name; the backup codes shown once after
 * a first factor, and later signing in with one; the German page; the lockout saying for how long.
 * Each page passes the accessibility audit and has no horizontal scroll on a desktop and a phone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type AuthenticatorPage, type Chromium } from '../helpers/chromium.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, awayFromStepBoundary, codeAt, newUser, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { lastCodeTo } from '../helpers/otp.js';
import { expectUsableAtAllWidths, expectUsablePage, WIDTHS } from '../helpers/page-checks.js';
import { REDIRECT_URI, authorizationRequest, discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let chrome: Chromium;
let tab: AuthenticatorPage;
let dataDir: string;

const BASE = { policy: 'any', enforce_enrollment: false, grace_period_seconds: 0, required_for_roles: [] as string[], trusted_device_duration_days: 0 };

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-mfa-pages-'));
  idp = await startTestIdp('mfa-pages', 'postgres+redis', { dataDir, rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  chrome = await launchChromium();
  tab = await chrome.newPage();
}, 30_000);
afterAll(async () => {
  await chrome?.close();
  await idp?.stop();
  await rm(dataDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await idp.container.settings.patchGlobal({ mfa: BASE });
  await tab.context.clearCookies();
  await tab.page.setViewportSize(WIDTHS[0]);
});

async function patchSettings(body: unknown) {
  const res = await fetch(`${idp.url}/api/v1/settings`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

/** A page whose layout another test covers: the audit at the phone's width only. */
async function expectUsableOnPhone(page: Page) {
  await page.setViewportSize(WIDTHS[1]);
  await expectUsablePage(page);
  await page.setViewportSize(WIDTHS[0]);
}

/**
 * An authorization request opened in the browser, the password typed on the sign-in page. The
 * callback is unreachable (port 9): the code is read from the browser's failed request for it.
 */
async function openLogin(page: Page, username: string, params: Record<string, string> = {}) {
  const request = await authorizationRequest(config, 'openid', params);
  await page.goto(request.url.href);
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  return {
    /** Sends the password; the next step's page. */
    async submit() {
      await Promise.all([page.waitForNavigation(), page.press('#password', 'Enter')]);
    },
    /** Runs `lead`, which takes the page to the relying party's callback; the id_token's claims. */
    async finish(lead: () => Promise<unknown>) {
      const failed = page.waitForEvent('requestfailed', { predicate: (r) => r.url().startsWith(REDIRECT_URI) });
      const settled = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() && f.url().startsWith('chrome-error:') });
      await lead();
      const [callback] = await Promise.all([failed, settled]);
      return (await request.redeem(new URL(callback.url()))).claims()!;
    },
  };
}

/** `openLogin`, the password sent: at the second step. */
async function signIn(page: Page, username: string, params: Record<string, string> = {}) {
  const login = await openLogin(page, username, params);
  await login.submit();
  return login;
}

/** A form submitted by `lead`: waits for the page it leads to. */
const submitted = (page: Page, lead: () => Promise<unknown>) => Promise.all([page.waitForNavigation(), lead()]);

const text = async (page: Page, selector: string) => (await page.locator(selector).allTextContents()).map((t) => t.trim());

/** The element that has the focus: its id, or its tag. */
const focused = (page: Page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName.toLowerCase());

/** Presses Tab until `id` has the focus (at most `max` times). */
async function tabTo(page: Page, id: string, max = 20) {
  for (let i = 0; i < max && (await focused(page)) !== id; i++) await page.keyboard.press('Tab');
  expect(await focused(page)).toBe(id);
}

describe('authenticator app enrolment', () => {
  test('keyboard only: the key in groups of four, the otpauth link under the display name, the code; the backup codes once, saved; a reload shows them no more; one signs in later', async () => {
    await patchSettings({ branding: { display_name: 'Acme: Widgets' } });
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    const user = await newUser(idp.url, 'mp-enrol');
    const { page } = tab;
    const login = await signIn(page, user.username);

    expect(await text(page, 'h1')).toEqual(['Set up your authenticator app']);
    await expectUsableAtAllWidths(page);
    // The code field has the focus as the page opens.
    expect(await focused(page)).toBe('code');

    // The name a colon cannot split: the display name without it, in the issuer and as the label's prefix.
    const href = (await page.locator('a[data-otpauth]').getAttribute('href'))!;
    const otpauth = new URL(href);
    expect(otpauth.protocol).toBe('otpauth:');
    expect(otpauth.searchParams.get('issuer')).toBe('Acme Widgets');
    expect(decodeURIComponent(otpauth.pathname)).toBe(`/Acme Widgets:${user.username}`);
    expect(href).not.toContain(encodeURIComponent(idp.url));
    expect(await page.getByRole('link', { name: 'Open in your authenticator app' }).isVisible()).toBe(true);
    const secret = otpauth.searchParams.get('secret')!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect((await page.locator('[data-key-grouped]').textContent())!.trim()).toBe(secret.match(/.{4}/g)!.join(' '));
    expect(await page.inputValue('#totp-key')).toBe(secret);
    expect(await page.getByRole('button', { name: 'Copy key' }).isVisible()).toBe(true);

    // A wrong code: the field says so, is marked invalid, and has the focus again.
    await awayFromStepBoundary();
    await page.keyboard.type(await wrongCode(secret));
    await submitted(page, () => page.keyboard.press('Enter'));
    expect(await page.getAttribute('#code', 'aria-invalid')).toBe('true');
    expect(await text(page, '#code-error')).toEqual(['That code is not valid. Try again.']);
    expect(await page.getAttribute('#code', 'aria-describedby')).toBe('code-error');
    expect(await focused(page)).toBe('code');

    await page.keyboard.type(await codeAt(secret, Date.now()));
    await submitted(page, () => page.keyboard.press('Enter'));
    expect(page.url()).toMatch(/\/backup-codes$/);
    expect(await text(page, 'h1')).toEqual(['Save your backup codes']);
    const codes = (await page.locator('[data-backup-codes] li').allTextContents()).map((c) => c.trim());
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect(await page.getByRole('button', { name: 'Copy codes' }).isVisible()).toBe(true);
    await expectUsableOnPhone(page);

    // The download is a text file made in the page, holding every code.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as a text file' }).click()]);
    expect(download.suggestedFilename()).toBe('backup-codes.txt');
    const file = await new Promise<string>((resolve, reject) => {
      void download.createReadStream().then((stream) => {
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      }, reject);
    });
    expect(file).toContain('Backup codes for Acme: Widgets');
    for (const c of codes) expect(file).toContain(c);

    // A reload shows them no more (and no cache kept the first answer).
    const reloaded = await page.reload();
    expect(reloaded!.headers()['cache-control']).toBe('no-store');
    expect(await page.locator('[data-backup-codes]').count()).toBe(0);
    expect((await text(page, 'p.notice'))[0]).toContain('Your backup codes were already shown');
    expect(await page.content()).not.toContain(codes[0]);

    // Confirmed by the keyboard: the box, then Continue.
    await tabTo(page, 'saved');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    const claims = await login.finish(() => page.keyboard.press('Enter'));
    expect(claims.sub).toBe(user.id);

    // One of them signs in later, under "Try another way".
    await tab.context.clearCookies();
    await idp.container.settings.patchGlobal({ mfa: BASE });
    const later = await signIn(page, user.username);
    expect(await text(page, 'h2')).toEqual(['Authenticator app', 'Backup code']);
    await page.getByText('Try another way').click();
    await page.fill('#backup', codes[4]!);
    const again = await later.finish(() => page.getByRole('button', { name: 'Use backup code' }).click());
    expect(again.sub).toBe(user.id);
    expect(again.amr).toContain('otp');
    await patchSettings({ branding: { display_name: null } });
  }, 120_000);

  test('self-service enrolment files the app under the same name', async () => {
    await patchSettings({ branding: { display_name: 'Acme Widgets' } });
    const user = await newUser(idp.url, 'mp-self');
    const { page } = tab;
    const login = await openLogin(page, user.username);
    await login.finish(() => page.press('#password', 'Enter'));
    await page.goto(`${idp.url}/.well-known/openid-configuration`);
    const started = await page.evaluate(async () => {
      const res = await fetch('/api/v1/mfa/totp/enroll', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return res.json();
    });
    const otpauth = new URL(started.qr_code_uri);
    expect(otpauth.searchParams.get('issuer')).toBe('Acme Widgets');
    expect(decodeURIComponent(otpauth.pathname)).toBe(`/Acme Widgets:${user.username}`);
    await patchSettings({ branding: { display_name: null } });
  });
});

describe('challenge page', () => {
  test('keyboard only: the code typed into the focused field, Enter; usable at every width', async () => {
    const user = await newUser(idp.url, 'mp-totp');
    const secret = await seedTotp(idp.container, user.id);
    const { page } = tab;
    const login = await signIn(page, user.username);
    expect(await text(page, 'h1')).toEqual(['Two-step verification']);
    expect(await text(page, 'h2')).toEqual(['Authenticator app']);
    expect(await page.getAttribute('#code', 'autocomplete')).toBe('one-time-code');
    expect(await page.getAttribute('#code', 'inputmode')).toBe('numeric');
    expect(await page.getByLabel('6-digit code from your authenticator app').isVisible()).toBe(true);
    await expectUsableAtAllWidths(page);
    expect(await focused(page)).toBe('code');
    await awayFromStepBoundary();
    await page.keyboard.type(await codeAt(secret, Date.now()));
    const claims = await login.finish(() => page.keyboard.press('Enter'));
    expect(claims.sub).toBe(user.id);
  });

  test('in German (ui_locales=de): every method by its name, the other ways folded', async () => {
    const user = await newUser(idp.url, 'mp-de');
    await seedTotp(idp.container, user.id);
    await idp.container.factors.get('backup_code')!.selfService!.issue!(user.id);
    const { page } = tab;
    await signIn(page, user.username, { ui_locales: 'de' });
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    expect(await text(page, 'h1')).toEqual(['Bestätigung in zwei Schritten']);
    expect(await text(page, 'h2')).toEqual(['Authenticator-App', 'Backup-Code']);
    expect(await text(page, 'summary')).toEqual(['Andere Methode verwenden']);
    expect(await page.getByLabel('6-stelliger Code aus Ihrer Authenticator-App').isVisible()).toBe(true);
    expect(await page.locator('#backup').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Bestätigen' }).isVisible()).toBe(true);
    expect(await page.locator('button', { hasText: 'Backup-Code verwenden' }).count()).toBe(1);
    expect(await page.title()).toMatch(/^Bestätigen Sie, dass Sie es sind – /);
    // The longer German texts at the phone's width.
    await expectUsableOnPhone(page);
  });

  test('a code by text message: sent to the number chosen, "Didn\'t get a code?" asks again and says how long to wait, the code signs in', async () => {
    await idp.container.settings.patchGlobal({ mfa: { allowed_methods: ['totp', 'passkey', 'backup_code', 'sms', 'voice'] } });
    const phone = `+1650253${String(1000 + (process.pid % 9000))}`;
    const user = await newUser(idp.url, 'mp-sms', { phone, phone_verified: true });
    const { page } = tab;
    const login = await signIn(page, user.username);
    expect(await text(page, 'h2')).toEqual(['Text message', 'Voice call']);
    await submitted(page, () => page.getByRole('button', { name: `Text a code to xxx-xxx-${phone.slice(-4)}` }).click());
    expect(await page.getByLabel(`6-digit code we texted to xxx-xxx-${phone.slice(-4)}`).isVisible()).toBe(true);
    expect(await focused(page)).toBe('otp-code');
    expect(await page.getAttribute('#otp-code', 'autocomplete')).toBe('one-time-code');

    await submitted(page, () => page.getByRole('button', { name: 'Send a new code' }).click());
    expect((await text(page, '[role=alert]'))[0]).toMatch(/^A code was sent moments ago\. You can ask for a new one in \d+ seconds\.$/);
    // The code already sent still answers.
    const { code } = await lastCodeTo(dataDir, phone);
    await page.fill('#otp-code', code);
    const claims = await login.finish(() => page.press('#otp-code', 'Enter'));
    expect(claims.sub).toBe(user.id);
  });

  test('a locked second factor says for how long', async () => {
    const { lockout } = await idp.container.settings.effective();
    await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 2, lock_minutes: [15] } });
    try {
      const user = await newUser(idp.url, 'mp-lock');
      const secret = await seedTotp(idp.container, user.id);
      const { page } = tab;
      await signIn(page, user.username);
      const wrong = await wrongCode(secret);
      await page.fill('#code', wrong);
      await submitted(page, () => page.press('#code', 'Enter'));
      expect(await text(page, '#code-error')).toEqual(['That code is not valid. Try again.']);
      await page.fill('#code', wrong);
      await submitted(page, () => page.press('#code', 'Enter'));
      expect(await text(page, '[role=alert]')).toEqual(['Too many wrong codes. Try again in 15 minutes.']);
      expect(await page.getByRole('link', { name: 'Back to sign-in' }).isVisible()).toBe(true);
      await expectUsableOnPhone(page);
    } finally {
      await idp.container.settings.patchGlobal({ lockout });
    }
  });
});
