/**
 * The session policy on the SAML side: a SAML login records its session like an OIDC one, and a
 * service provider's reuse of the session obeys the organisation's idle and absolute timeouts, its
 * bindings and the concurrent-session limit (real time, short settings: the SP's messages carry
 * real timestamps the IdP checks).
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';
import { land, registerSamlSp, ssoRedirect, type SamlSp } from '../helpers/saml-flow.js';
import { browserAt, liveRecords, patchSettings, signInOidc, silent } from '../helpers/sessions.js';
import type { Browser } from '../helpers/browser.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let idp: TestIdp;
let spA: SamlSp;
let spB: SamlSp;
let oidc: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('session-saml', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'] });
  spA = await registerSamlSp(idp.url, 'https://sess-sp-a.example');
  spB = await registerSamlSp(idp.url, 'https://sess-sp-b.example');
  const client = await registerClient(idp.url, { first_party: true });
  oidc = await discover(idp.url, client.client_id, client.client_secret);
  await patchSettings(idp.url, 'ss-short', { sessions: { idle_timeout: 2, session_timeout: 5 } });
  await patchSettings(idp.url, 'ss-single', { sessions: { single_session_mode: true } });
  await patchSettings(idp.url, 'ss-ip', { sessions: { bind_to_ip: true } });
});
afterAll(async () => {
  await idp.stop();
});

/** A SAML login at `sp` in `browser`, through to the post form; returns the password step's answer. */
async function samlSignIn(sp: SamlSp, username: string, browser: Browser, remember?: boolean) {
  const first = await ssoRedirect(browser, sp.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const answer = await browser.json(`${first.url.href}/login`, { username, password: PASSWORD, ...(remember ? { remember_me: true } : {}) });
  expect(answer.body.status).toBe('success');
  const landing = await land(browser, new URL(answer.body.redirect_to, idp.url));
  expect(landing.kind).toBe('form');
  return { answer: answer.body };
}

/** Whether `sp`'s SSO request is answered from the session ('form') or needs a login ('interaction'). */
const reuse = async (sp: SamlSp, browser: Browser) => (await ssoRedirect(browser, sp.sp)).kind;

test('a SAML login records its session, with a browser-session cookie unless "keep me signed in"', async () => {
  const user = await newUser(idp.url, 'ss-rec');
  const browser = browserAt('203.0.113.80');
  const first = await ssoRedirect(browser, spA.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const answer = await browser.json(`${first.url.href}/login`, { username: user.username, password: PASSWORD });
  const set = answer.res.headers.getSetCookie().find((l) => /^(__Host-)?idp_session=/.test(l))!;
  expect(set).toBeDefined();
  expect(set).not.toMatch(/expires=/i);
  const [record] = await liveRecords(idp.container, user.id);
  expect(record).toMatchObject({ ip: '203.0.113.80', uaFamily: 'Chrome/Windows', acr: 'aal1', rememberMe: false });
  expect(record!.deviceKey).toBeTruthy();

  const kept = browserAt('203.0.113.81');
  const again = await ssoRedirect(kept, spA.sp);
  if (again.kind !== 'interaction') throw new Error('expected a login');
  const remembered = await kept.json(`${again.url.href}/login`, { username: user.username, password: PASSWORD, remember_me: true });
  const line = remembered.res.headers.getSetCookie().find((l) => /^(__Host-)?idp_session=/.test(l))!;
  const expires = Date.parse(/expires=([^;]+)/i.exec(line)![1]!);
  expect(expires - Date.now()).toBeGreaterThan(29 * 86_400_000);
});

test("a service provider's reuse of the session ends after the organisation's idle timeout", async () => {
  const user = await newUser(idp.url, 'ss-idle', { organization: 'ss-short' });
  const browser = browserAt('203.0.113.82');
  await samlSignIn(spA, user.username, browser);
  expect(await reuse(spB, browser)).toBe('form');
  await sleep(2600);
  expect(await reuse(spB, browser)).toBe('interaction');
});

test('continuous SAML reuse does not extend the session past session_timeout', async () => {
  const user = await newUser(idp.url, 'ss-abs', { organization: 'ss-short' });
  const browser = browserAt('203.0.113.83');
  await samlSignIn(spA, user.username, browser);
  const start = Date.now();
  let outcome = 'form';
  while (outcome === 'form' && Date.now() - start < 10_000) {
    await sleep(700);
    outcome = await reuse(spB, browser);
  }
  expect(outcome).toBe('interaction');
  const elapsed = Date.now() - start;
  expect(elapsed).toBeGreaterThan(3_500);
  expect(elapsed).toBeLessThan(7_000);
});

test('bind_to_ip holds for SAML reuse too', async () => {
  const user = await newUser(idp.url, 'ss-ip', { organization: 'ss-ip' });
  const browser = browserAt('203.0.113.84');
  await samlSignIn(spA, user.username, browser);
  expect(await reuse(spB, browser)).toBe('form');
  browser.headers['x-forwarded-for'] = '203.0.113.85';
  expect(await reuse(spB, browser)).toBe('interaction');
});

test('single_session_mode across protocols: an OIDC login ends the SAML session; a SAML login ends the OIDC one', async () => {
  const user = await newUser(idp.url, 'ss-one', { organization: 'ss-single' });
  const saml = browserAt('203.0.113.86');
  await samlSignIn(spA, user.username, saml);
  const o = await signInOidc(oidc, user.username, { browser: browserAt('203.0.113.87') });
  expect(o.login.sessions_ended).toBe(1);
  expect(await reuse(spB, saml)).toBe('interaction');
  const again = await samlSignIn(spA, user.username, browserAt('203.0.113.88'));
  expect(again.answer.sessions_ended).toBe(1);
  expect(await silent(oidc, o.browser)).toBe('login_required');
  expect(await liveRecords(idp.container, user.id)).toHaveLength(1);
});
