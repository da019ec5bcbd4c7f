/**
 * Passkeys in a real browser: headless Chromium with a CDP virtual authenticator (a platform
 * authenticator with user verification, device-bound) signs in to the real IdP through its own
 * pages, as a user would, and openid-client as relying party redeems the code. The WebAuthn
 * ceremonies are the browser's own (the pages' script through @simplewebauthn/browser), so origin,
 * RP ID and client data are what a user's browser would send (WebAuthn Level 3 §7.1, §7.2).
 *
 * The login page offers passkeys in the username field's autofill (conditional mediation, WebAuthn
 * Level 3 §5.1.4.2) as soon as it loads, and the virtual authenticator with automatic presence
 * simulation picks a credential at once, as a user who chooses the first passkey offered. A step that
 * must happen on the login page with a credential present (the password, the explicit button) turns
 * the simulation off first: the autofill request then waits for a user who never comes, and the
 * simulation is turned on again just before the click that stands for the user's touch.
 */
import type { Page, Request } from 'playwright-core';
import { launchChromium, type AuthenticatorPage, type Chromium } from '../helpers/chromium.js';
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

/** Whether the virtual authenticator answers requests by itself (the user touches it at once). */
const setPresence = (p: AuthenticatorPage, enabled: boolean) =>
  p.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: p.authenticatorId, enabled });

/** The POSTs the page sends to the IdP, by path, from now on. */
function postsOf(page: Page) {
  const paths: string[] = [];
  const record = (r: Request) => {
    if (r.method() === 'POST' && r.url().startsWith(idp.url)) paths.push(new URL(r.url()).pathname);
  };
  page.on('request', record);
  return paths;
}

/**
 * An authorization request of the relying party, in a context without cookies. The callback is
 * unreachable (port 9, which Chromium also refuses), so the code is read from the browser's failed
 * request for it.
 */
async function signIn(p: AuthenticatorPage, params: Record<string, string> = {}) {
  const { page } = p;
  await p.context.clearCookies();
  const request = await authorizationRequest(config, 'openid email profile', params);
  return {
    /** Opening it as far as the server's answer: the login page, whose script may act at once. */
    go: () => page.goto(request.url.href, { waitUntil: 'commit' }),
    /** Opens the login page and waits for its passkey form, which the page's script shows. */
    async open() {
      const begun = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/passkey/begin'));
      await page.goto(request.url.href);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+$/);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
      // The autofill's request has its options: conditional mediation is running.
      expect((await begun).status()).toBe(200);
    },
    /** Runs `lead`, which takes the page to the relying party's callback: the URL it was sent to. */
    async callback(lead: () => Promise<unknown>) {
      const callback = page.waitForEvent('requestfailed', { predicate: (r) => r.url().startsWith(REDIRECT_URI) });
      // The failed navigation ends on Chromium's error page; the next one must not race with it.
      const settled = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() && f.url().startsWith('chrome-error:') });
      await lead();
      const [failed] = await Promise.all([callback, settled]);
      return new URL(failed.url());
    },
    /** The relying party redeems the code it was sent: the id_token's claims. */
    async redeem(callback: URL) {
      return (await request.redeem(callback)).claims()!;
    },
    /** `callback`, then `redeem`. */
    async finish(lead: () => Promise<unknown>) {
      return this.redeem(await this.callback(lead));
    },
  };
}

/** Types the password into the real login form and submits it. */
async function submitPassword(page: Page, username: string) {
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('button:has-text("Sign in")');
}

/** Signs in with a password on the real login page, then registers a passkey named Laptop through the self-service API. */
async function registerAfterPassword(p: AuthenticatorPage, username: string) {
  const { page } = p;
  expect(await p.credentials()).toEqual([]);
  // No passkey yet: the autofill has nothing to offer and the password form is the user's.
  const first = await signIn(p);
  await first.open();
  expect((await first.finish(() => submitPassword(page, username))).amr).toEqual(['pwd']);
  // Any page of the IdP's origin: the API calls are same-origin, with the session cookie.
  await page.goto(`${idp.url}/.well-known/openid-configuration`);
  const options = await post(page, '/api/v1/mfa/passkey/register/begin', { name: 'Laptop' });
  expect(options.status).toBe(200);
  const credential = await page.evaluate((o: any) => SimpleWebAuthnBrowser.startRegistration({ optionsJSON: o }), options.body);
  return { credential, ...(await post(page, '/api/v1/mfa/passkey/register/finish', { credential, name: 'Laptop' })) };
}

/** Opening the login page signs in by conditional mediation alone: nothing typed, no button clicked. */
async function signInByAutofill(p: AuthenticatorPage, params: Record<string, string> = {}) {
  const request = await signIn(p, params);
  const posts = postsOf(p.page);
  const url = await request.callback(() => request.go());
  const interaction = posts[0]!.replace(/\/passkey\/begin$/, '');
  expect(posts).toEqual([`${interaction}/passkey/begin`, `${interaction}/passkey/finish`]);
  return { url, claims: () => request.redeem(url) };
}

const toBase64url = (base64: string) => Buffer.from(base64, 'base64').toString('base64url');

test('register in self-service, then the passkey as second factor, by autofill and by its button: amr, acr and the stored credential', async () => {
  const p = await chrome.newPage();
  const { page } = p;
  const user = await newUser(idp.url, 'pk-browser');

  const registered = await registerAfterPassword(p, user.username);
  expect(registered).toMatchObject({ status: 201, body: { name: 'Laptop', device_type: 'single_device', backed_up: false, user_verified: true } });

  // The authenticator holds one discoverable credential for this RP, the one the IdP stored.
  const stored = await idp.container.db.selectFrom('webauthnCredentials').select('credentialId').where('id', '=', registered.body.id).executeTakeFirstOrThrow();
  const held = await p.credentials();
  expect(held).toEqual([expect.objectContaining({ isResidentCredential: true, rpId: 'localhost' })]);
  expect(toBase64url(held[0]!.credentialId)).toBe(stored.credentialId);
  expect(registered.credential.id).toBe(stored.credentialId);

  // Second factor: the password on the login page (the autofill waits, unanswered), then the passkey on the two-step page.
  await setPresence(p, false);
  const second = await signIn(p);
  await second.open();
  await submitPassword(page, user.username);
  const usePasskey = page.getByRole('button', { name: 'Use a passkey' });
  await usePasskey.waitFor();
  await setPresence(p, true);
  // The request options pass through the test on their way to the page (read after the page has left, their body is gone).
  let allowed: { id: string }[] = [];
  await page.route('**/mfa/passkey/begin', async (route) => {
    const response = await route.fetch();
    allowed = ((await response.json()) as { allowCredentials: { id: string }[] }).allowCredentials;
    await route.fulfill({ response });
  });
  const withPassword = await second.finish(() => usePasskey.click());
  await page.unrouteAll();
  // The second factor's request names the user's credential (no discovery needed, the user is known).
  expect(allowed.map((c) => c.id)).toEqual([stored.credentialId]);
  expect(withPassword.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  expect(withPassword.acr).toBe('aal3');

  // Passwordless by the autofill: opening the login page is all it takes.
  const third = await signInByAutofill(p);
  const byAutofill = await third.claims();
  expect(byAutofill.sub).toBe(withPassword.sub);
  expect(byAutofill.amr).toEqual(['hwk', 'user', 'mfa']);
  expect(byAutofill.acr).toBe('aal3');

  // Passwordless by the button: its ceremony replaces the autofill's, which is left unanswered.
  await setPresence(p, false);
  const fourth = await signIn(p);
  await fourth.open();
  const posts = postsOf(page);
  await setPresence(p, true);
  const byButton = await fourth.finish(() => page.getByRole('button', { name: 'Sign in with a passkey' }).click());
  // Its own options (a fresh challenge; the autofill's is no longer open), then the form's submission.
  expect(posts.map((path) => path.replace(/^\/interaction\/[^/]+/, ''))).toEqual(['/passkey/begin', '/passkey/finish']);
  expect(byButton.sub).toBe(withPassword.sub);
  expect(byButton.amr).toEqual(['hwk', 'user', 'mfa']);

  // A relying party that asks for aal3 gets it from this authenticator.
  const fifth = await signInByAutofill(p, { acr_values: 'aal3' });
  expect((await fifth.claims()).acr).toBe('aal3');

  // Four assertions: the stored sign counter follows the authenticator's.
  const counted = await p.credentials();
  expect(counted[0]!.signCount).toBeGreaterThan(held[0]!.signCount);
  const after = await idp.container.db.selectFrom('webauthnCredentials').select('signCount').where('id', '=', registered.body.id).executeTakeFirstOrThrow();
  expect(after.signCount).toBe(counted[0]!.signCount);
  await p.close();
});

test('a synced passkey is aal2 (swk), and a relying party that asks for aal3 is told so', async () => {
  const p = await chrome.newPage({ defaultBackupEligibility: true, defaultBackupState: true });
  const user = await newUser(idp.url, 'pk-synced');
  const registered = await registerAfterPassword(p, user.username);
  expect(registered).toMatchObject({ status: 201, body: { device_type: 'multi_device', backed_up: true } });

  const plain = await signInByAutofill(p);
  const claims = await plain.claims();
  expect(claims.amr).toEqual(['swk', 'user', 'mfa']);
  expect(claims.acr).toBe('aal2');

  const strict = await signInByAutofill(p, { acr_values: 'aal3' });
  expect(strict.url.searchParams.get('error')).toBe('unmet_authentication_requirements');
  expect(strict.url.searchParams.has('code')).toBe(false);
  await p.close();
});
