/**
 * SAML single sign-on through the same login as OIDC, with node-saml as the SP: SP-initiated over
 * both bindings, the one SSO session shared with OIDC, ForceAuthn, requested contexts (MFA forced,
 * step-up of a password session, NoAuthnContext), IsPassive, IdP-initiated, abort.
 */
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
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
  passwordSso as passwordSsoAt,
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
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0, enforce_enrollment: false } });
});

const passwordSso = (sp: SamlSp, username: string, browser = new Browser()) => passwordSsoAt(sp.sp, username, PASSWORD, browser);

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
  // node-saml remembers the request IDs it sent per instance, and checks InResponseTo against them.
  const postSp = spB.make({ authnRequestBinding: 'HTTP-POST', skipRequestCompression: true });
  const landing = await ssoPost(browser, postSp, idp.url);
  if (landing.kind !== 'form') throw new Error('expected a form');
  const { profile } = await spValidates(postSp, landing.form);
  expect(profile?.nameID).toBeTruthy();
  // The form went to the registered ACS, with the RelayState the SP posted.
  expect(landing.form).toMatchObject({ action: 'https://sp-b.example/acs', RelayState: 'relay-1' });
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

const events = async (type: string, subject: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).where('subject', '=', subject).orderBy('id').execute();

test('audit: a full login and a reused session each record the response; the login names the SP as its client', async () => {
  const user = await newUser(idp.url, 'saml-audit');
  const { browser } = await passwordSso(spA, user.username);
  await ssoRedirect(browser, spB.sp);
  const issued = await events('saml.sso.succeeded', user.id);
  expect(issued.map((e) => e.data)).toEqual([
    expect.objectContaining({ sp: spA.entityId, initiated_by: 'sp', context_class: PPT, session_reused: false }),
    expect.objectContaining({ sp: spB.entityId, initiated_by: 'sp', context_class: PPT, session_reused: true }),
  ]);
  expect(issued.map((e) => e.clientId)).toEqual([spA.entityId, spB.entityId]);
  const [login] = await events('authn.login.succeeded', user.id);
  expect(login).toMatchObject({ clientId: spA.entityId, data: expect.objectContaining({ client_id: spA.entityId }) });
});

test('SessionIndex: one per session and SP, another for another SP or session; SessionNotOnOrAfter is the session end', async () => {
  const user = await newUser(idp.url, 'saml-index');
  const index = (form: { SAMLResponse: string }) => /SessionIndex="([^"]+)"/.exec(decodeResponse(form as never))![1];
  const { browser, form: first } = await passwordSso(spA, user.username);
  const again = await ssoRedirect(browser, spA.sp);
  const other = await ssoRedirect(browser, spB.sp);
  if (again.kind !== 'form' || other.kind !== 'form') throw new Error('expected forms');
  expect(index(again.form)).toBe(index(first));
  expect(index(other.form)).not.toBe(index(first));
  const { form: second } = await passwordSso(spA, user.username);
  expect(index(second)).not.toBe(index(first));

  const rows = await idp.container.db.selectFrom('samlSessionParticipants').selectAll().where('accountId', '=', user.id).execute();
  expect(rows).toHaveLength(3);
  const ends = /SessionNotOnOrAfter="([^"]+)"/.exec(decodeResponse(first))![1]!;
  const authnAt = /AuthnInstant="([^"]+)"/.exec(decodeResponse(first))![1]!;
  expect((Date.parse(ends) - Date.parse(authnAt)) / 1000).toBe(idp.container.config.session.absoluteSeconds);
});

test('a fresh login asked for REFEDS MFA runs password then TOTP', async () => {
  const user = await newUser(idp.url, 'saml-fresh-mfa');
  const secret = await seedTotp(idp.container, user.id);
  const browser = new Browser();
  const mfaSp = spA.make({ authnContext: [REFEDS_MFA], racComparison: 'exact' });
  const first = await ssoRedirect(browser, mfaSp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const { body } = await signInAt(browser, first.url, user.username, PASSWORD);
  expect(body).toMatchObject({ status: 'mfa_required', methods: ['totp'] });
  const form = await formAfter(browser, await browser.json(`${first.url.href}/mfa/totp`, { code: await codeAt(secret, Date.now()) }));
  const { profile } = await spValidates(mfaSp, form);
  expect(profile?.nameID).toBeTruthy();
  expect(decodeResponse(form)).toContain(`<saml:AuthnContextClassRef>${REFEDS_MFA}</saml:AuthnContextClassRef>`);
});

test('the MFA policy applies to SAML logins as to OIDC ones: a user with a factor is asked for it', async () => {
  const user = await newUser(idp.url, 'saml-policy');
  const secret = await seedTotp(idp.container, user.id);
  const browser = new Browser();
  // node-saml asks for PasswordProtectedTransport (exact) unless told not to; this SP asks for nothing.
  const first = await ssoRedirect(browser, spA.make({ disableRequestedAuthnContext: true }));
  if (first.kind !== 'interaction') throw new Error('expected a login');
  expect((await signInAt(browser, first.url, user.username, PASSWORD)).body.status).toBe('mfa_required');
  const form = await formAfter(browser, await browser.json(`${first.url.href}/mfa/totp`, { code: await codeAt(secret, Date.now()) }));
  // Two factors earn the REFEDS MFA class when the SP did not ask for a class.
  expect(decodeResponse(form)).toContain(REFEDS_MFA);
  // An SP that asked for exactly PasswordProtectedTransport gets that class: it is true of this login too.
  const exact = await ssoRedirect(browser, spA.sp);
  if (exact.kind !== 'form') throw new Error('expected the session to be reused');
  expect(decodeResponse(exact.form)).toContain(`<saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef>`);

  // Enrolment enforced: a user without a factor sets one up before the SP gets anything.
  await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
  const bare = await newUser(idp.url, 'saml-enrol');
  const fresh = new Browser();
  const next = await ssoRedirect(fresh, spA.sp);
  if (next.kind !== 'interaction') throw new Error('expected a login');
  expect((await signInAt(fresh, next.url, bare.username, PASSWORD)).body).toMatchObject({ status: 'mfa_enrollment_required' });
});

test('the user gives up: the SP gets a signed AuthnFailed status at its ACS', async () => {
  const browser = new Browser();
  const first = await ssoRedirect(browser, spA.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const html = await browser.fetch(first.url);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await html.text())?.[1];
  const aborted = await browser.json(`${first.url.href}/abort`, { csrf });
  expect(aborted.body.status).toBe('aborted');
  const form = await formAfter(browser, aborted);
  expect(form.action).toBe('https://sp-a.example/acs');
  expect(decodeResponse(form)).toContain('urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
  await expect(spValidates(spA.sp, form)).rejects.toThrow(/AuthnFailed|status/i);
});

test('a SAML login asks no consent, and ends once', async () => {
  const user = await newUser(idp.url, 'saml-once');
  const browser = new Browser();
  const first = await ssoRedirect(browser, spA.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  expect((await browser.json(first.url)).body).toMatchObject({ step: 'login', client_id: spA.entityId });
  const { body } = await signInAt(browser, first.url, user.username, PASSWORD);
  expect(body.status).toBe('success');
  // The login is over: the interaction is gone and its form was handed out once.
  expect((await browser.json(first.url)).status).toBe(400);
  expect((await browser.fetch(body.redirect_to)).status).toBe(400);
});

test('a disabled account’s session is not reused; another person signing in replaces the session', async () => {
  const user = await newUser(idp.url, 'saml-disabled');
  const { browser } = await passwordSso(spA, user.username);
  await idp.container.accounts.update(user.id, { status: 'disabled' });
  expect((await ssoRedirect(browser, spA.sp)).kind).toBe('interaction');

  const other = await newUser(idp.url, 'saml-next-person');
  const first = await ssoRedirect(browser, spB.sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const { landing } = await signInAt(browser, first.url, other.username, PASSWORD);
  if (landing?.kind !== 'form') throw new Error('expected a form');
  const flow = await beginAuth(oidc, { browser });
  const { claims } = await flow.complete();
  expect(claims.sub).toBe(other.id);
});

test('a disabled SP gets nothing: its requests and IdP-initiated SSO to it are refused until it is enabled again', async () => {
  const user = await newUser(idp.url, 'saml-disabled-sp');
  const { browser } = await passwordSso(spA, user.username);
  const sp = await registerSamlSp(idp.url, 'https://sp-off.example');
  const patch = (enabled: boolean) =>
    fetch(`${idp.url}/api/v1/saml/service-providers/${sp.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled }),
    });
  expect((await (await patch(false)).json()) as unknown).toMatchObject({ enabled: false });
  const refused = await browser.fetch(await sp.sp.getAuthorizeUrlAsync('', undefined, {}), { headers: { accept: 'application/json' } });
  expect(refused.status).toBe(400);
  expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
  const unsolicited = await browser.fetch(`${idp.url}/saml/idp-initiated?sp=${encodeURIComponent(sp.entityId)}`);
  expect(unsolicited.status).toBe(400);
  expect(await unsolicited.text()).not.toContain('SAMLResponse');
  const [audit] = await idp.container.db
    .selectFrom('auditEvents')
    .selectAll()
    .where('type', '=', 'saml.request.refused')
    .where('data', '@>', JSON.stringify({ reason: 'service_provider_disabled' }) as never)
    .execute();
  expect(audit).toBeDefined();

  await patch(true);
  expect((await ssoRedirect(browser, sp.sp)).kind).toBe('form');
});
