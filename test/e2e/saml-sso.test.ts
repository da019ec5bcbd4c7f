/**
 * SAML single sign-on through the same login as OIDC, with node-saml as the SP: SP-initiated over
 * both bindings, the one SSO session shared with OIDC, ForceAuthn, requested contexts (MFA forced,
 * step-up of a password session, NoAuthnContext), IsPassive, IdP-initiated, abort.
 */
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser, seedTotp, codeAt } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';
import {
  PPT,
  REFEDS_MFA,
  decodeResponse,
  formAfter,
  land,
  registerSamlSp,
  signInAt,
  spValidates,
  ssoPost,
  ssoRedirect,
  type SamlSp,
} from '../helpers/saml-flow.js';

let idp: TestIdp;
let spA: SamlSp;
let spB: SamlSp;
let oidc: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('saml-sso', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  spA = await registerSamlSp(idp.url, 'https://sp-a.example');
  spB = await registerSamlSp(idp.url, 'https://sp-b.example', { settings: { attribute_mapping: { mail: 'email' } } });
  const client = await registerClient(idp.url, { first_party: true });
  oidc = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
});

async function passwordSso(sp: SamlSp, username: string, browser = new Browser()) {
  const first = await ssoRedirect(browser, sp.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const { body, landing } = await signInAt(browser, first.url, username, PASSWORD);
  expect(body.status).toBe('success');
  if (landing?.kind !== 'form') throw new Error('expected the post form');
  return { browser, form: landing.form };
}

test('SP-initiated over HTTP-Redirect: login, then a response node-saml accepts; the next SP reuses the session', async () => {
  const user = await newUser(idp.url, 'saml-a', { email: 'a@example.com' });
  const { browser, form } = await passwordSso(spA, user.username);
  expect(form.action).toBe('https://sp-a.example/acs');
  expect(form.RelayState).toBe('relay-1');
  const { profile } = await spValidates(spA.sp, form);
  expect(profile?.issuer).toBe(`${idp.url}/saml/metadata`);
  expect(decodeResponse(form)).toContain(PPT);

  const again = await ssoRedirect(browser, spB.sp, 'second');
  if (again.kind !== 'form') throw new Error('the session should have been reused');
  const b = await spValidates(spB.sp, again.form);
  expect(b.profile?.mail).toBe('a@example.com');
  expect(again.form.RelayState).toBe('second');
});

test('HTTP-POST binding: the cross-site POST continues with a GET that carries the session', async () => {
  const user = await newUser(idp.url, 'saml-post');
  const { browser } = await passwordSso(spA, user.username);
  const landing = await ssoPost(browser, spB.make({ authnRequestBinding: 'HTTP-POST', skipRequestCompression: true }), idp.url);
  if (landing.kind !== 'form') throw new Error('expected a form');
  await spValidates(spB.sp, landing.form).catch(() => undefined);
});

test('a session from OIDC signs into SAML without a password; one from SAML signs into OIDC', async () => {
  const user = await newUser(idp.url, 'saml-oidc');
  const browser = new Browser();
  const flow = await beginAuth(oidc, { browser });
  const r = await flow.post('login', { username: user.username, password: PASSWORD });
  await flow.complete(r.body.redirect_to);
  const saml = await ssoRedirect(browser, spA.sp);
  expect(saml.kind).toBe('form');

  const other = await newUser(idp.url, 'saml-then-oidc');
  const { browser: b2 } = await passwordSso(spB, other.username);
  const flow2 = await beginAuth(oidc, { browser: b2 });
  expect(flow2.interactionUrl).toBeUndefined();
  const { claims } = await flow2.complete();
  expect(claims.sub).toBe(other.id);
});

test('RequestedAuthnContext REFEDS MFA: a password session steps up with TOTP only; the class is REFEDS MFA', async () => {
  const user = await newUser(idp.url, 'saml-mfa');
  const { browser } = await passwordSso(spA, user.username);
  const secret = await seedTotp(idp.container, user.id);
  const mfaSp = spA.make({ authnContext: [REFEDS_MFA], racComparison: 'minimum' });
  const landing = await ssoRedirect(browser, mfaSp);
  if (landing.kind !== 'interaction') throw new Error('expected a step-up');
  expect((await browser.json(landing.url)).body).toMatchObject({ step: 'mfa' });
  const form = await formAfter(browser, await browser.json(`${landing.url.href}/mfa/totp`, { code: await codeAt(secret, Date.now()) }));
  expect(decodeResponse(form)).toContain(REFEDS_MFA);
  await spValidates(mfaSp, form);
});

test('ForceAuthn asks the password again; IsPassive without a session gets NoPassive; an unknown class gets NoAuthnContext', async () => {
  const user = await newUser(idp.url, 'saml-force');
  const { browser } = await passwordSso(spA, user.username);
  const forced = await ssoRedirect(browser, spA.make({ forceAuthn: true }));
  expect(forced.kind).toBe('interaction');

  const passive = await ssoRedirect(new Browser(), spA.make({ passive: true }));
  if (passive.kind !== 'form') throw new Error('expected a status response');
  expect(decodeResponse(passive.form)).toContain('urn:oasis:names:tc:SAML:2.0:status:NoPassive');

  const kerberos = await ssoRedirect(browser, spA.make({ authnContext: ['urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos'] }));
  if (kerberos.kind !== 'form') throw new Error('expected a status response');
  expect(decodeResponse(kerberos.form)).toContain('urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext');
});

test('IdP-initiated: a login first, then an unsolicited response', async () => {
  const user = await newUser(idp.url, 'saml-idp-init');
  const browser = new Browser();
  const first = await land(browser, `${idp.url}/saml/idp-initiated?sp=${encodeURIComponent(spA.entityId)}&RelayState=deep`);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const { landing } = await signInAt(browser, first.url, user.username, PASSWORD);
  if (landing?.kind !== 'form') throw new Error('expected a form');
  expect(decodeResponse(landing.form)).not.toContain('InResponseTo');
  expect(landing.form.RelayState).toBe('deep');
});
