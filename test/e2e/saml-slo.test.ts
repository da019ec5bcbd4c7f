/**
 * SAML single logout (SAML 2.0 Profiles §4.4) with node-saml as the SPs: one SSO session with two
 * SAML SPs (one with an HTTP-POST SingleLogoutService, one with HTTP-Redirect) and an OIDC client;
 * SP-initiated over both bindings, IdP-initiated, and what an OIDC logout leaves behind.
 */
import zlib from 'node:zlib';
import { ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';
import { Browser, passwordSso, registerSamlSp, signInAt, spValidates, ssoRedirect, type SamlSp } from '../helpers/saml-flow.js';
import { hop, messageOf, postForm, postedLogoutRequest, spReads, type Hop } from '../helpers/saml-slo.js';
import { validateSamlMessage } from '../../src/saml/schema-validator.js';

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
/** SLO over HTTP-POST (node-saml's metadata default). */
let spA: SamlSp;
/** SLO over HTTP-Redirect. */
let spB: SamlSp;
let client: { client_id: string; client_secret: string };
let oidc: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('saml-slo', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  rp = await startLogoutReceiver();
  spA = await registerSamlSp(idp.url, 'https://sp-a.example');
  spB = await registerSamlSp(idp.url, 'https://sp-b.example', {
    metadata: (xml) =>
      xml.replace(`Binding="${HTTP_POST}" Location="https://sp-b.example/slo"`, `Binding="${HTTP_REDIRECT}" Location="https://sp-b.example/slo"`),
  });
  client = await registerClient(idp.url, { first_party: true, backchannel_logout_uri: `${rp.url}/bcl`, backchannel_logout_session_required: true });
  oidc = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await rp.close();
  await idp.stop();
});

/** One browser signed in (password once) at SP A, then SP B and the OIDC client by SSO; each one's view of the session. */
async function signedInEverywhere(label: string) {
  const user = await newUser(idp.url, label);
  const { browser, form } = await passwordSso(spA.sp, user.username, PASSWORD);
  const a = (await spValidates(spA.sp, form)).profile!;
  const second = await ssoRedirect(browser, spB.sp);
  if (second.kind !== 'form') throw new Error('SP B should have reused the session');
  const b = (await spValidates(spB.sp, second.form)).profile!;
  const flow = await beginAuth(oidc, { browser });
  expect(flow.interactionUrl).toBeUndefined();
  const { tokens, claims } = await flow.complete();
  return { user, browser, a, b, tokens, sid: claims.sid as string };
}

/** Every message the IdP sends is schema-valid and signed. */
async function checked(h: Hop): Promise<Hop> {
  const { xml } = messageOf(h);
  await validateSamlMessage(xml);
  if (h.kind === 'form') expect(xml).toContain('<ds:Signature');
  else if (h.kind === 'redirect') expect(h.query.SigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
  return h;
}

/** The SP the IdP's LogoutRequest goes to validates it and answers Success over HTTP-Redirect. */
async function spAnswers(browser: Browser, sp: SamlSp, h: Hop, expected: Profile) {
  const { profile, loggedOut } = await spReads(sp.sp, await checked(h));
  expect(loggedOut).toBe(true);
  expect(profile).toMatchObject({
    issuer: `${idp.url}/saml/metadata`,
    nameID: expected.nameID,
    nameIDFormat: expected.nameIDFormat,
    sessionIndex: expected.sessionIndex,
  });
  return hop(browser, idp.url, await sp.sp.getLogoutResponseUrlAsync(profile!, '', {}, true));
}

/** After logout: the OIDC client was told over the back channel, its refresh token is dead, SSO needs a password, no participant is left. */
async function everythingEnded(s: Awaited<ReturnType<typeof signedInEverywhere>>, deliveriesBefore: number) {
  const deliveries = await rp.waitFor(deliveriesBefore + 1);
  const { payload } = await verifyLogoutToken(idp.url, client.client_id, deliveries.at(-1)!.logoutToken);
  expect(payload.sid).toBe(s.sid);
  await expect(oc.refreshTokenGrant(oidc, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await ssoRedirect(s.browser, spA.sp)).kind).toBe('interaction');
  expect((await ssoRedirect(s.browser, spB.sp)).kind).toBe('interaction');
  const rows = await idp.container.db.selectFrom('samlSessionParticipants').selectAll().where('accountId', '=', s.user.id).execute();
  expect(rows).toEqual([]);
}

/** The ID of the LogoutRequest in an SP's Redirect URL. */
const requestIdOf = (url: string) =>
  /ID="([^"]+)"/.exec(zlib.inflateRawSync(Buffer.from(new URL(url).searchParams.get('SAMLRequest')!, 'base64')).toString('utf8'))![1]!;

/**
 * The initiator's verdict on a POSTed LogoutResponse. node-saml looks for InResponseTo on a
 * samlp:Response only, so it is checked here and node-saml checks the rest (signature, status).
 */
async function initiatorReads(sp: SamlSp, h: Hop, requestId: string) {
  expect(messageOf(h).xml).toContain(`InResponseTo="${requestId}"`);
  return spReads(sp.make({ validateInResponseTo: ValidateInResponseTo.never }), await checked(h));
}

const auditOf = (type: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).orderBy('id', 'desc').limit(1).executeTakeFirst();

test('SP-initiated over HTTP-Redirect: SP B is told over Redirect, SP A gets its LogoutResponse over POST, OIDC is told over the back channel', async () => {
  const s = await signedInEverywhere('slo-redirect');
  const before = rp.received.length;
  const logoutUrl = await spA.sp.getLogoutUrlAsync(s.a, 'bye-a', {});
  const toB = await hop(s.browser, idp.url, logoutUrl);
  expect(toB.kind).toBe('redirect');
  expect(messageOf(toB).destination).toBe('https://sp-b.example/slo');
  const toA = await spAnswers(s.browser, spB, toB, s.b);
  expect(toA).toMatchObject({ kind: 'form', action: 'https://sp-a.example/slo', fields: { RelayState: 'bye-a' } });
  expect(messageOf(toA).xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
  expect(messageOf(toA).xml).not.toContain('PartialLogout');
  expect(await initiatorReads(spA, toA, requestIdOf(logoutUrl))).toMatchObject({ loggedOut: true });
  await everythingEnded(s, before);
  expect((await auditOf('saml.logout.completed'))?.data).toMatchObject({ initiated_by: 'sp', notified: 1, partial: false });
  expect((await auditOf('saml.logout.requested'))?.data).toMatchObject({ sp: spA.entityId, session_found: true });
});

test('SP-initiated over HTTP-POST (a cross-site POST: the session is found by SessionIndex); SP A is told with a POSTed LogoutRequest', async () => {
  const s = await signedInEverywhere('slo-post');
  const before = rp.received.length;
  // SP B starts this time; its request is POSTed, so it carries no cookie of the IdP.
  const request = await postedLogoutRequest(spB.sp, s.b, spB.signing.key);
  const toA = await hop(new Browser(), idp.url, `${idp.url}/saml/slo`, postForm({ SAMLRequest: request, RelayState: 'bye-b' }));
  // A fresh browser: the chain is bound to it; the IdP session is found by SessionIndex all the same.
  expect(toA).toMatchObject({ kind: 'form', action: 'https://sp-a.example/slo' });
  expect(messageOf(toA).field).toBe('SAMLRequest');
  await everythingEnded(s, before);
});

test('the same POST flow in the signed-in browser ends the chain at SP B with Success over Redirect', async () => {
  const s = await signedInEverywhere('slo-post-browser');
  const request = await postedLogoutRequest(spB.sp, s.b, spB.signing.key);
  const toA = await hop(s.browser, idp.url, `${idp.url}/saml/slo`, postForm({ SAMLRequest: request, RelayState: 'bye-b' }));
  const toB = await spAnswers(s.browser, spA, toA, s.a);
  expect(toB.kind).toBe('redirect');
  if (toB.kind !== 'redirect') return;
  expect(toB.query.RelayState).toBe('bye-b');
  expect(messageOf(toB).xml).toMatch(/InResponseTo="[^"]+"/);
  expect(await spReads(spB.sp, await checked(toB))).toMatchObject({ loggedOut: true });
  // The browser's session cookie is gone as well.
  expect((await ssoRedirect(s.browser, spA.sp)).kind).toBe('interaction');
});

/** The user asks to sign out at the IdP and confirms on its page (the form's CSRF token bound to the session). */
async function confirmLogout(browser: Browser, answer: 'yes' | 'no' = 'yes') {
  const asked = await hop(browser, idp.url, `${idp.url}/saml/logout`);
  if (asked.kind !== 'page') throw new Error('expected the confirmation page');
  expect(asked.html).toContain('Sign out?');
  const csrf = /name="csrf" value="([^"]+)"/.exec(asked.html)![1]!;
  return hop(browser, idp.url, `${idp.url}/saml/logout`, postForm({ csrf, ...(answer === 'yes' ? { logout: 'yes' } : {}) }));
}

test('IdP-initiated /saml/logout asks first: a link alone, or a form without the session’s token, signs nobody out', async () => {
  const s = await signedInEverywhere('slo-idp-csrf');
  await hop(s.browser, idp.url, `${idp.url}/saml/logout`);
  const forged = await hop(s.browser, idp.url, `${idp.url}/saml/logout`, postForm({ logout: 'yes' }));
  expect(forged).toMatchObject({ kind: 'page', status: 403 });
  const other = await hop(s.browser, idp.url, `${idp.url}/saml/logout`, postForm({ logout: 'yes', csrf: 'x'.repeat(43) }));
  expect(other).toMatchObject({ kind: 'page', status: 403 });
  const stay = await confirmLogout(s.browser, 'no');
  expect(stay).toMatchObject({ kind: 'page', status: 200 });
  if (stay.kind === 'page') expect(stay.html).toContain('still signed in');
  expect((await ssoRedirect(s.browser, spA.sp)).kind).toBe('form');
});

test('IdP-initiated /saml/logout: every SP in turn, then the signed-out page', async () => {
  const s = await signedInEverywhere('slo-idp');
  const before = rp.received.length;
  let h = await confirmLogout(s.browser);
  const told: string[] = [];
  while (h.kind !== 'page') {
    const sp = messageOf(h).destination.startsWith(spA.entityId) ? spA : spB;
    told.push(sp.entityId);
    h = await spAnswers(s.browser, sp, h, sp === spA ? s.a : s.b);
  }
  expect(told.sort()).toEqual([spA.entityId, spB.entityId]);
  expect(h.status).toBe(200);
  expect(h.html).toContain('You are signed out');
  await everythingEnded(s, before);
  expect((await auditOf('saml.logout.completed'))?.data).toMatchObject({ initiated_by: 'idp', notified: 2, partial: false });
});

test('a LogoutRequest naming no live session is answered Success and ends nothing; the logout is idempotent', async () => {
  const s = await signedInEverywhere('slo-idempotent');
  const first = await hop(s.browser, idp.url, await spA.sp.getLogoutUrlAsync(s.a, 'once', {}));
  await spAnswers(s.browser, spB, first, s.b);
  // The same logout again (a new request): nothing left to end, Success at once.
  const secondUrl = await spA.sp.getLogoutUrlAsync(s.a, 'twice', {});
  const again = await hop(s.browser, idp.url, secondUrl);
  expect(again).toMatchObject({ kind: 'form', action: 'https://sp-a.example/slo', fields: { RelayState: 'twice' } });
  expect(await initiatorReads(spA, again, requestIdOf(secondUrl))).toMatchObject({ loggedOut: true });
  expect((await auditOf('saml.logout.requested'))?.data).toMatchObject({ session_found: false });
});

test('an SP whose LogoutResponse is not Success makes the logout partial (PartialLogout to the initiator)', async () => {
  const s = await signedInEverywhere('slo-partial');
  const toB = await hop(s.browser, idp.url, await spA.sp.getLogoutUrlAsync(s.a, '', {}));
  const { profile } = await spReads(spB.sp, toB);
  const toA = await hop(s.browser, idp.url, await spB.sp.getLogoutResponseUrlAsync(profile!, '', {}, false));
  expect(messageOf(toA).xml).toContain('urn:oasis:names:tc:SAML:2.0:status:PartialLogout');
  await validateSamlMessage(messageOf(toA).xml);
  expect((await auditOf('saml.logout.completed'))?.data).toMatchObject({ notified: 0, partial: true });
});

test('OIDC logout ends the same session; the SAML participants it leaves behind do not get in the way of the next login and logout', async () => {
  const s = await signedInEverywhere('slo-oidc');
  const end = new URL(`${idp.url}/session/end`);
  end.searchParams.set('id_token_hint', s.tokens.id_token!);
  const page = await s.browser.fetch(end);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())![1]!;
  await s.browser.fetch(`${idp.url}/session/end/confirm`, postForm({ xsrf, logout: 'yes' }));
  // SAML SPs are not told by an OIDC logout: their rows stay until their session's expiry.
  const left = await idp.container.db.selectFrom('samlSessionParticipants').selectAll().where('accountId', '=', s.user.id).execute();
  expect(left).toHaveLength(2);
  // A new login makes a new session (new uid), with participants of its own.
  const again = await ssoRedirect(s.browser, spA.sp);
  if (again.kind !== 'interaction') throw new Error('expected a login after the OIDC logout');
  const { landing } = await signInAt(s.browser, again.url, s.user.username, PASSWORD);
  if (landing?.kind !== 'form') throw new Error('expected the post form');
  const a2 = (await spValidates(spA.sp, landing.form)).profile!;
  expect(a2.sessionIndex).not.toBe(s.a.sessionIndex);
  // SP B's old SessionIndex names the ended session: Success, and the new session lives on.
  const stale = await hop(s.browser, idp.url, await spB.sp.getLogoutUrlAsync(s.b, '', {}));
  // SP A of the old session is told (its assertion outlived the session), then SP B gets its answer.
  const toB = await spAnswers(s.browser, spA, stale, s.a);
  expect(await spReads(spB.sp, toB)).toMatchObject({ loggedOut: true });
  expect((await ssoRedirect(s.browser, spB.sp)).kind).toBe('form');
});
