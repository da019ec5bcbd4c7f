/**
 * Passkeys in a real browser: headless Chromium with a CDP virtual authenticator (a platform
 * authenticator with user verification, device-bound) signs in to the real IdP, and openid-client
 * as relying party redeems the code. The WebAuthn ceremonies are the browser's own
 * (navigator.credentials through @simplewebauthn/browser), so origin, RP ID and client data are
 * what a user's browser would send (WebAuthn Level 3 §7.1, §7.2).
 */
import type { Page } from 'playwright-core';
import { launchChromium, type Chromium } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { REDIRECT_URI, authorizationRequest, discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let chrome: Chromium;

beforeAll(async () => {
  idp = await startTestIdp('passkey-browser', 'postgres+redis');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  chrome = await launchChromium();
}, 30_000);
afterAll(async () => {
  await chrome?.close();
  await idp?.stop();
});

/** A JSON POST from the page's own context: its origin, its cookies. */
function post(page: Page, path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  return page.evaluate(
    async ({ path, body }) => {
      const res = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    { path, body },
  );
}

const startRegistration = (page: Page, optionsJSON: unknown) =>
  page.evaluate((o: any) => SimpleWebAuthnBrowser.startRegistration({ optionsJSON: o }), optionsJSON);
const startAuthentication = (page: Page, optionsJSON: unknown) =>
  page.evaluate((o: any) => SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: o }), optionsJSON);

/**
 * The relying party sends the browser to the IdP; the page ends on the login page. The callback is
 * unreachable (port 9, which Chromium also refuses), so the code is read from the browser's failed
 * request for it.
 */
async function startSignIn(page: Page, params: Record<string, string> = {}) {
  const request = await authorizationRequest(config, 'openid email profile', params);
  await page.goto(request.url.href);
  const url = new URL(page.url());
  expect(url.pathname).toMatch(/^\/interaction\/[^/]+$/);
  return {
    interaction: url.pathname,
    /** Runs `lead`, which takes the page to the relying party's callback: the URL it was sent to. */
    async callback(lead: () => Promise<unknown>) {
      const callback = page.waitForEvent('requestfailed', { predicate: (r) => r.url().startsWith(REDIRECT_URI) });
      // The failed navigation ends on Chromium's error page; the next one must not race with it.
      const settled = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() && f.url().startsWith('chrome-error:') });
      await lead();
      const [failed] = await Promise.all([callback, settled]);
      return new URL(failed.url());
    },
    /** The same, and the relying party redeems the code. */
    async finish(lead: () => Promise<unknown>) {
      const tokens = await request.redeem(await this.callback(lead));
      return tokens.claims()!;
    },
  };
}

/** Follows an interaction's `redirect_to` as the page's own script would. */
const follow = (page: Page, redirectTo: string) => page.evaluate((to) => location.assign(to), redirectTo);

/** Types the password into the real login form and submits it. */
async function submitPassword(page: Page, username: string) {
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('button:has-text("Sign in")');
}

/** An assertion from the page's authenticator for `begin`'s options, posted to `finish`. */
async function assertWith(page: Page, begin: string, finish: string) {
  const options = await post(page, begin);
  expect(options.status).toBe(200);
  const credential = await startAuthentication(page, options.body);
  return { options: options.body, credential, answer: await post(page, finish, { credential }) };
}

/** Signs in with a password on the real login page, then registers a passkey named Laptop through the self-service API. */
async function registerAfterPassword(page: Page, username: string) {
  const signIn = await startSignIn(page);
  expect((await signIn.finish(() => submitPassword(page, username))).amr).toEqual(['pwd']);
  // Any page of the IdP's origin: the API calls are same-origin, with the session cookie.
  await page.goto(`${idp.url}/.well-known/openid-configuration`);
  const options = await post(page, '/api/v1/mfa/passkey/register/begin', { name: 'Laptop' });
  expect(options.status).toBe(200);
  const credential = await startRegistration(page, options.body);
  return { credential, ...(await post(page, '/api/v1/mfa/passkey/register/finish', { credential, name: 'Laptop' })) };
}

const toBase64url = (base64: string) => Buffer.from(base64, 'base64').toString('base64url');

test('register in self-service, then the passkey as second factor and alone: amr, acr and the stored credential', async () => {
  const p = await chrome.newPage();
  const { page } = p;
  const user = await newUser(idp.url, 'pk-browser');

  // Password on the real login page, then a passkey registered through the self-service API.
  const registered = await registerAfterPassword(page, user.username);
  expect(registered).toMatchObject({ status: 201, body: { name: 'Laptop', device_type: 'single_device', backed_up: false, user_verified: true } });
  const credential = registered.credential;

  // The authenticator holds one discoverable credential for this RP, the one the IdP stored.
  const stored = await idp.container.db.selectFrom('webauthnCredentials').select('credentialId').where('id', '=', registered.body.id).executeTakeFirstOrThrow();
  const held = await p.credentials();
  expect(held).toEqual([expect.objectContaining({ isResidentCredential: true, rpId: 'localhost' })]);
  expect(toBase64url(held[0]!.credentialId)).toBe(stored.credentialId);
  expect(credential.id).toBe(stored.credentialId);

  // A new sign-in: password on the page, then the passkey as second factor.
  await p.context.clearCookies();
  const second = await startSignIn(page);
  await submitPassword(page, user.username);
  // The answer to the password is the two-step page, offering the passkey.
  await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
  const mfa = await assertWith(page, `${second.interaction}/mfa/passkey/begin`, `${second.interaction}/mfa/passkey/finish`);
  expect(mfa.options.allowCredentials.map((c: { id: string }) => c.id)).toEqual([stored.credentialId]);
  expect(mfa.answer).toMatchObject({ status: 200, body: { status: 'success' } });
  const withPassword = await second.finish(() => follow(page, mfa.answer.body.redirect_to));
  expect(withPassword.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  expect(withPassword.acr).toBe('aal3');

  // Passwordless: no username, the authenticator finds the credential itself.
  await p.context.clearCookies();
  const third = await startSignIn(page);
  const alone = await assertWith(page, `${third.interaction}/passkey/begin`, `${third.interaction}/passkey/finish`);
  expect(alone.options.allowCredentials ?? []).toEqual([]);
  expect(alone.options.userVerification).toBe('required');
  expect(alone.answer).toMatchObject({ status: 200, body: { status: 'success' } });
  const passwordless = await third.finish(() => follow(page, alone.answer.body.redirect_to));
  expect(passwordless.sub).toBe(withPassword.sub);
  expect(passwordless.amr).toEqual(['hwk', 'user', 'mfa']);
  expect(passwordless.acr).toBe('aal3');

  // A relying party that asks for aal3 gets it from this authenticator.
  await p.context.clearCookies();
  const fourth = await startSignIn(page, { acr_values: 'aal3' });
  const aal3 = await assertWith(page, `${fourth.interaction}/passkey/begin`, `${fourth.interaction}/passkey/finish`);
  expect((await fourth.finish(() => follow(page, aal3.answer.body.redirect_to))).acr).toBe('aal3');

  // Three assertions: the stored sign counter follows the authenticator's.
  const counted = await p.credentials();
  expect(counted[0]!.signCount).toBeGreaterThan(held[0]!.signCount);
  const after = await idp.container.db.selectFrom('webauthnCredentials').select('signCount').where('id', '=', registered.body.id).executeTakeFirstOrThrow();
  expect(after.signCount).toBe(counted[0]!.signCount);
  await p.close();
});

test('a synced passkey is aal2 (swk), and a relying party that asks for aal3 is told so', async () => {
  const p = await chrome.newPage({ defaultBackupEligibility: true, defaultBackupState: true });
  const { page } = p;
  const user = await newUser(idp.url, 'pk-synced');
  const registered = await registerAfterPassword(page, user.username);
  expect(registered).toMatchObject({ status: 201, body: { device_type: 'multi_device', backed_up: true } });

  await p.context.clearCookies();
  const plain = await startSignIn(page);
  const alone = await assertWith(page, `${plain.interaction}/passkey/begin`, `${plain.interaction}/passkey/finish`);
  const claims = await plain.finish(() => follow(page, alone.answer.body.redirect_to));
  expect(claims.amr).toEqual(['swk', 'user', 'mfa']);
  expect(claims.acr).toBe('aal2');

  await p.context.clearCookies();
  const strict = await startSignIn(page, { acr_values: 'aal3' });
  const refused = await assertWith(page, `${strict.interaction}/passkey/begin`, `${strict.interaction}/passkey/finish`);
  expect(refused.answer).toMatchObject({ status: 200, body: { status: 'aborted' } });
  const answer = await strict.callback(() => follow(page, refused.answer.body.redirect_to));
  expect(answer.searchParams.get('error')).toBe('unmet_authentication_requirements');
  expect(answer.searchParams.has('code')).toBe(false);
  await p.close();
});
