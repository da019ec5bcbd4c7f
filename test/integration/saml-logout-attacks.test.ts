/**
 * Logout messages the IdP must not act on, sent to the real SLO endpoint against a live SSO
 * session: each is refused with 400, audited with its reason, and the session lives on.
 */
import zlib from 'node:zlib';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { passwordSso, registerSamlSp, spValidates, ssoRedirect, type SamlSp } from '../helpers/saml-flow.js';
import { selfSigned } from '../helpers/saml-sp.js';
import { hop, postForm, postedLogoutRequest, postedLogoutResponse, spReads } from '../helpers/saml-slo.js';

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

let idp: TestIdp;
let spA: SamlSp;
let spB: SamlSp;
let attacker: { pem: string; key: string };

beforeAll(async () => {
  idp = await startTestIdp('saml-logout-attacks', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  spA = await registerSamlSp(idp.url, 'https://sp-a.example');
  spB = await registerSamlSp(idp.url, 'https://sp-b.example', {
    metadata: (xml) =>
      xml.replace(`Binding="${HTTP_POST}" Location="https://sp-b.example/slo"`, `Binding="${HTTP_REDIRECT}" Location="https://sp-b.example/slo"`),
  });
  attacker = await selfSigned('attacker');
});
afterAll(async () => {
  await idp.stop();
});

async function signedIn(label: string) {
  const user = await newUser(idp.url, label);
  const { browser, form } = await passwordSso(spA.sp, user.username, PASSWORD);
  const a = (await spValidates(spA.sp, form)).profile!;
  const second = await ssoRedirect(browser, spB.sp);
  if (second.kind !== 'form') throw new Error('expected SSO');
  const b = (await spValidates(spB.sp, second.form)).profile!;
  return { user, browser, a, b };
}
type Session = Awaited<ReturnType<typeof signedIn>>;

const lastRefusal = async () =>
  (await idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', 'saml.logout.refused').orderBy('id', 'desc').limit(1).executeTakeFirst())
    ?.data;

/** Still signed in: SSO at SP B needs no password, and both participants are still recorded. */
async function stillAlive(s: Session) {
  const rows = await idp.container.db.selectFrom('samlSessionParticipants').select('spId').where('accountId', '=', s.user.id).execute();
  expect(rows).toHaveLength(2);
  expect((await ssoRedirect(s.browser, spB.sp)).kind).toBe('form');
}

/** Sends the message in the signed-in browser: refused with 400 and audited with `reason`. */
async function refused(s: Session, reason: string, url: string, init?: RequestInit) {
  const res = await hop(s.browser, idp.url, url, init);
  expect(res).toMatchObject({ kind: 'page', status: 400 });
  expect(await lastRefusal()).toMatchObject({ reason });
}
const slo = () => `${idp.url}/saml/slo`;
const post = (SAMLRequest: string): RequestInit => postForm({ SAMLRequest });
const b64 = (xml: string) => Buffer.from(xml).toString('base64');
const withoutSignature = (url: string) => {
  const u = new URL(url);
  u.searchParams.delete('SigAlg');
  u.searchParams.delete('Signature');
  return u.href;
};

test('an unsigned LogoutRequest (Redirect and POST)', async () => {
  const s = await signedIn('slo-unsigned');
  await refused(s, 'signature_required', withoutSignature(await spA.sp.getLogoutUrlAsync(s.a, '', {})));
  await refused(s, 'signature_required', slo(), post(b64(await spA.sp._generateLogoutRequest(s.a))));
  await stillAlive(s);
});

test('a signature by a key not in the SP’s metadata (Redirect and POST)', async () => {
  const s = await signedIn('slo-foreign-key');
  await refused(s, 'signature_invalid', await spA.make({ privateKey: attacker.key }).getLogoutUrlAsync(s.a, '', {}));
  await refused(s, 'signature_invalid', slo(), post(await postedLogoutRequest(spA.sp, s.a, attacker.key)));
  await stillAlive(s);
});

test('a SHA-1 SigAlg', async () => {
  const s = await signedIn('slo-sha1');
  await refused(s, 'unsupported_signature_algorithm', await spA.make({ signatureAlgorithm: 'sha1' }).getLogoutUrlAsync(s.a, '', {}));
  await stillAlive(s);
});

test('DOCTYPE with entities, and a compression bomb', async () => {
  const s = await signedIn('slo-dtd');
  const xml = await spA.sp._generateLogoutRequest(s.a);
  const xxe = xml.replace('<samlp:LogoutRequest', '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><samlp:LogoutRequest');
  await refused(s, 'dtd_not_allowed', slo(), post(b64(xxe)));
  // 1 MiB of spaces in a comment deflates to about a KiB: inflating stops at the cap.
  const bomb = zlib.deflateRawSync(Buffer.concat([Buffer.from(xml.replace('<saml:Issuer', '<!--')), Buffer.alloc(1024 * 1024, 0x20)]), { level: 9 });
  await refused(s, 'too_large', `${slo()}?SAMLRequest=${encodeURIComponent(bomb.toString('base64'))}`);
  await stillAlive(s);
});

test('a Destination other than this IdP’s SLO URL', async () => {
  const s = await signedIn('slo-destination');
  const elsewhere = new URL(await spA.make({ logoutUrl: 'https://other-idp.example/slo' }).getLogoutUrlAsync(s.a, '', {}));
  await refused(s, 'wrong_destination', `${slo()}${elsewhere.search}`);
  await stillAlive(s);
});

test('a replayed LogoutRequest ID', async () => {
  const s = await signedIn('slo-replay');
  // A request naming no session of this SP (a SessionIndex it never got) is answered and ends nothing; its replay is refused.
  const url = await spA.sp.getLogoutUrlAsync({ ...s.a, sessionIndex: '_not-a-session' }, '', {});
  expect((await hop(s.browser, idp.url, url)).kind).toBe('form');
  await refused(s, 'replayed', url);
  await stillAlive(s);
});

test('signature wrapping (GHSA-63ch-w8pw-4mf2): a captured signed LogoutRequest lends nothing to a forged one for another session', async () => {
  const victim = await signedIn('slo-wrap-victim');
  const other = await signedIn('slo-wrap-other');
  const forged = (inner: string, id: string, signature = '') =>
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${slo()}"><saml:Issuer>${spA.entityId}</saml:Issuer>${signature}<samlp:Extensions><w:Wrap xmlns:w="urn:example:wrap">${inner}</w:Wrap></samlp:Extensions><saml:NameID Format="${victim.a.nameIDFormat}">${victim.a.nameID}</saml:NameID><samlp:SessionIndex>${victim.a.sessionIndex}</samlp:SessionIndex></samlp:LogoutRequest>`;
  const capture = async () =>
    Buffer.from(await postedLogoutRequest(spA.sp, other.a, spA.signing.key), 'base64')
      .toString('utf8')
      .replace(/^<\?xml[^>]*>/, '');
  const parts = (captured: string) => ({ id: /ID="([^"]+)"/.exec(captured)![1]!, signature: /<Signature[\s\S]*<\/Signature>/.exec(captured)![0] });

  // The signed request inside the forged one, whose root carries no signature.
  await refused(victim, 'signature_required', slo(), post(b64(forged(await capture(), '_evil1'))));
  // The signature moved up to the forged root, still referencing the captured request.
  let captured = await capture();
  let { signature } = parts(captured);
  await refused(victim, 'signature_invalid', slo(), post(b64(forged(captured.replace(signature, ''), '_evil2', signature))));
  // The forged root takes the captured request's ID; the captured one hides beside it under another.
  captured = await capture();
  ({ signature } = parts(captured));
  const { id } = parts(captured);
  await refused(victim, 'signature_invalid', slo(), post(b64(forged(captured.replace(signature, '').replace(`ID="${id}"`, 'ID="_hidden"'), id, signature))));
  await stillAlive(victim);
  await stillAlive(other);
});

test('SP B cannot end a session through SP A’s SessionIndex, nor name the user by another NameID', async () => {
  const s = await signedIn('slo-cross-sp');
  // B's signed request with A's SessionIndex names no session of B's: answered Success, nothing ends.
  const crossed = await hop(s.browser, idp.url, await spB.sp.getLogoutUrlAsync({ ...s.b, sessionIndex: s.a.sessionIndex }, '', {}));
  expect(crossed.kind).toBe('redirect');
  expect(await spReads(spB.sp, crossed)).toMatchObject({ loggedOut: true });
  await stillAlive(s);
  // B's own SessionIndex with A's NameID for the user: refused.
  await refused(s, 'name_id_mismatch', await spB.sp.getLogoutUrlAsync({ ...s.b, nameID: s.a.nameID }, '', {}));
  await stillAlive(s);
});

test('a LogoutResponse that answers nothing this browser carries: wrong InResponseTo, or from the wrong SP; the right one still completes', async () => {
  const s = await signedIn('slo-in-response-to');
  const toB = await hop(s.browser, idp.url, await spA.sp.getLogoutUrlAsync(s.a, 'r', {}));
  const { profile } = await spReads(spB.sp, toB);
  await refused(s, 'unexpected_response', slo(), postForm({ SAMLResponse: postedLogoutResponse(spB.sp, { ...profile!, ID: '_wrong' }, spB.signing.key) }));
  await refused(s, 'unexpected_response', slo(), postForm({ SAMLResponse: postedLogoutResponse(spA.sp, profile!, spA.signing.key) }));
  const toA = await hop(s.browser, idp.url, await spB.sp.getLogoutResponseUrlAsync(profile!, '', {}, true));
  expect(toA).toMatchObject({ kind: 'form', action: 'https://sp-a.example/slo', fields: { RelayState: 'r' } });
});
