/**
 * AuthnRequests as they reach the SSO endpoint, sent by an SP implementation nobody here wrote
 * (node-saml) over HTTP-Redirect and HTTP-POST, against the real SP registry: what the login would
 * act on comes back, and every request the IdP must not act on is refused with its reason.
 */
import { SAML, type SamlConfig } from '@node-saml/node-saml';
import zlib from 'node:zlib';
import { selfSigned } from '../helpers/saml-sp.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient } from '../helpers/api.js';
import { AuthnRequestError, type IncomingAuthnRequest } from '../../src/saml/authn-request.js';

let idp: TestIdp;
let sso: string;
let signing: { pem: string; key: string };
let attacker: { pem: string; key: string };

const api = apiClient(() => idp.url);
const SIGNED_SP = 'https://sp.signed.example';
const OPEN_SP = 'https://sp.open.example';
const MFA = 'https://refeds.org/profile/mfa';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** node-saml as the SP: it signs with `signing` unless told otherwise. */
const sp = (o: Partial<SamlConfig> = {}) =>
  new SAML({
    issuer: SIGNED_SP,
    callbackUrl: `${SIGNED_SP}/acs`,
    entryPoint: sso,
    idpCert: signing.pem,
    privateKey: signing.key,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    identifierFormat: PERSISTENT,
    authnContext: [MFA],
    racComparison: 'minimum',
    ...o,
  });

/** What the SSO route hands over for a Redirect URL: the decoded query and the raw one without its Signature. */
function fromRedirect(url: string): { query: Record<string, string>; octetString: string } {
  const raw = new URL(url).search.slice(1);
  return {
    query: Object.fromEntries(new URLSearchParams(raw)),
    octetString: raw
      .split('&')
      .filter((p) => !p.startsWith('Signature='))
      .join('&'),
  };
}

const redirect = async (o: Partial<SamlConfig> = {}, relayState = 'state-1') => fromRedirect(await sp(o).getAuthorizeUrlAsync(relayState, undefined, {}));
/** node-saml deflates POSTed requests unless told not to; SAML Bindings §3.5.4 sends them as plain base64. */
async function post(o: Partial<SamlConfig> = {}, relayState = 'state-1'): Promise<{ body: { SAMLRequest: string; RelayState: string } }> {
  const form = await sp({ authnRequestBinding: 'HTTP-POST', skipRequestCompression: true, ...o }).getAuthorizeMessageAsync(relayState);
  return { body: { SAMLRequest: String(form.SAMLRequest), RelayState: String(form.RelayState) } };
}
const postXml = (xml: string): IncomingAuthnRequest => ({ body: { SAMLRequest: Buffer.from(xml).toString('base64') } });
const redirectXml = (xml: string): IncomingAuthnRequest => ({
  query: { SAMLRequest: zlib.deflateRawSync(xml).toString('base64') },
  octetString: 'unused',
});
const decoded = (r: { body: { SAMLRequest: string } }) => Buffer.from(r.body.SAMLRequest, 'base64').toString('utf8');

const read = (incoming: IncomingAuthnRequest) => idp.container.readAuthnRequest(incoming);
async function refusal(incoming: IncomingAuthnRequest): Promise<string> {
  const err = await read(incoming).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthnRequestError);
  return (err as AuthnRequestError).reason;
}

/** An unsigned request written by hand, so one test can change exactly one thing. */
function handRequest(o: { id?: string; issuer?: string; instant?: string; destination?: string; prolog?: string; extra?: string } = {}) {
  return `${o.prolog ?? '<?xml version="1.0" encoding="UTF-8"?>'}
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? `_${Math.random().toString(36).slice(2)}`}" Version="2.0" IssueInstant="${o.instant ?? new Date().toISOString()}" Destination="${o.destination ?? sso}"><saml:Issuer>${o.issuer ?? OPEN_SP}${o.extra ?? ''}</saml:Issuer></samlp:AuthnRequest>`;
}

beforeAll(async () => {
  idp = await startTestIdp('saml-authn-request');
  sso = `${idp.container.config.issuer}/saml/sso`;
  signing = await selfSigned('sp signing');
  attacker = await selfSigned('attacker');
  const signed = new SAML({ issuer: SIGNED_SP, callbackUrl: `${SIGNED_SP}/acs`, entryPoint: sso, idpCert: signing.pem, privateKey: signing.key });
  const open = new SAML({ issuer: OPEN_SP, callbackUrl: `${OPEN_SP}/acs`, entryPoint: sso, idpCert: signing.pem });
  for (const metadata of [signed.generateServiceProviderMetadata(null, signing.pem), open.generateServiceProviderMetadata(null, null)]) {
    expect((await api('POST', '/saml/service-providers', { metadata })).status).toBe(201);
  }
});
afterAll(async () => {
  await idp.stop();
});

describe('accepted', () => {
  test('a signed HTTP-Redirect request: its fields, the registered ACS and the RelayState', async () => {
    const incoming = await redirect({ forceAuthn: true });
    const xml = zlib.inflateRawSync(Buffer.from(incoming.query.SAMLRequest!, 'base64')).toString('utf8');
    const r = await read(incoming);
    expect(r).toEqual({
      id: /ID="([^"]+)"/.exec(xml)![1],
      sp: expect.objectContaining({ entityId: SIGNED_SP, authnRequestsSigned: true }),
      acsUrl: `${SIGNED_SP}/acs`,
      relayState: 'state-1',
      forceAuthn: true,
      isPassive: false,
      requestedContexts: { classRefs: [MFA], comparison: 'minimum' },
      nameIdFormat: PERSISTENT,
    });
  });

  test('a signed HTTP-POST request (enveloped XML signature)', async () => {
    const incoming = await post();
    expect(decoded(incoming)).toContain('<Signature');
    const r = await read(incoming);
    expect(r).toMatchObject({ sp: { entityId: SIGNED_SP }, acsUrl: `${SIGNED_SP}/acs`, relayState: 'state-1', forceAuthn: false });
  });

  test('an unsigned request from an SP that does not sign: no ACS URL asked for → its default ACS', async () => {
    const r = await read(redirectXml(handRequest()));
    expect(r).toMatchObject({ sp: { entityId: OPEN_SP }, acsUrl: `${OPEN_SP}/acs`, forceAuthn: false, isPassive: false });
    expect(r.requestedContexts).toBeUndefined();
    expect(r.relayState).toBeUndefined();
  });
});

describe('refused', () => {
  test('an issuer that is not a registered SP', async () => {
    expect(await refusal(await redirect({ issuer: 'https://sp.unknown.example' }))).toBe('unknown_issuer');
    expect(await refusal(postXml(handRequest({ issuer: 'https://sp.unknown.example' })))).toBe('unknown_issuer');
  });

  test('an ACS URL that is not in the SP’s metadata is never taken from the request', async () => {
    expect(await refusal(await redirect({ callbackUrl: 'https://evil.example/acs' }))).toBe('acs_not_registered');
    expect(await refusal(await post({ callbackUrl: `${SIGNED_SP}/other-acs` }))).toBe('acs_not_registered');
  });

  test('signature missing where the metadata says AuthnRequestsSigned (Redirect and POST)', async () => {
    const { query } = await redirect();
    const stripped = { query: { SAMLRequest: query.SAMLRequest!, RelayState: query.RelayState! }, octetString: '' };
    expect(await refusal(stripped)).toBe('signature_required');
    expect(await refusal(await post({ privateKey: undefined }))).toBe('signature_required');
  });

  test('a bad signature: another key, a flipped byte, a tampered RelayState', async () => {
    expect(await refusal(await redirect({ privateKey: attacker.key }))).toBe('signature_invalid');
    expect(await refusal(await post({ privateKey: attacker.key }))).toBe('signature_invalid');

    const good = await redirect();
    const sig = Buffer.from(good.query.Signature!, 'base64');
    sig[10]! ^= 1;
    expect(await refusal({ ...good, query: { ...good.query, Signature: sig.toString('base64') } })).toBe('signature_invalid');

    const tampered = good.octetString.replace('RelayState=state-1', 'RelayState=evil');
    expect(await refusal(fromRedirect(`https://x/?${tampered}&Signature=${encodeURIComponent(good.query.Signature!)}`))).toBe('signature_invalid');

    const signedPost = await post();
    const edited = decoded(signedPost).replace('IssueInstant=', 'IsPassive="true" IssueInstant=');
    expect(await refusal(postXml(edited))).toBe('signature_invalid');
  });

  test('a SHA-1 or unknown SigAlg, and a SHA-1 XML signature', async () => {
    expect(await refusal(await redirect({ signatureAlgorithm: 'sha1' }))).toBe('unsupported_signature_algorithm');
    const good = await redirect();
    const unknown = good.octetString.replace(/SigAlg=[^&]+/, `SigAlg=${encodeURIComponent('urn:unknown')}`);
    expect(await refusal({ query: { ...good.query, SigAlg: 'urn:unknown' }, octetString: unknown })).toBe('unsupported_signature_algorithm');
    expect(await refusal(await post({ signatureAlgorithm: 'sha1', digestAlgorithm: 'sha1' }))).toBe('unsupported_signature_algorithm');
  });

  test('a Destination other than this IdP’s SSO URL', async () => {
    expect(await refusal(await redirect({ entryPoint: 'https://other-idp.example/sso' }))).toBe('wrong_destination');
    expect(await refusal(postXml(handRequest({ destination: 'https://other-idp.example/sso' })))).toBe('wrong_destination');
  });

  test('DOCTYPE with an external entity, and billion laughs', async () => {
    const xxe = handRequest({ prolog: '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', extra: '&xxe;' });
    const lol = handRequest({
      prolog: `<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`,
      extra: '&lol9;',
    });
    for (const xml of [xxe, lol]) {
      expect(await refusal(redirectXml(xml))).toBe('dtd_not_allowed');
      expect(await refusal(postXml(xml))).toBe('dtd_not_allowed');
    }
  });

  test('a compression bomb is refused after inflating no more than the cap', async () => {
    // 40 MiB of spaces inside a comment deflate to ~40 KiB, under the encoded-size cap.
    const bomb = zlib.deflateRawSync(Buffer.concat([Buffer.from(handRequest().replace('<saml:Issuer>', '<!--')), Buffer.alloc(40 * 1024 * 1024, 0x20)]), {
      level: 9,
    });
    const started = performance.now();
    expect(await refusal({ query: { SAMLRequest: bomb.toString('base64') }, octetString: '' })).toBe('too_large');
    const refused = performance.now() - started;
    // Against inflating the whole bomb on the same machine at the same moment (a busy CI runner slows both).
    const whole = performance.now();
    zlib.inflateRawSync(bomb);
    expect(refused).toBeLessThan((performance.now() - whole) / 2);
  });

  test('schema-invalid and malformed payloads', async () => {
    expect(await refusal(postXml(handRequest().replace('Version="2.0"', '')))).toBe('schema_invalid');
    expect(await refusal(postXml('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'))).toBe('malformed');
    expect(await refusal({ body: { SAMLRequest: '%%%' } })).toBe('malformed');
    expect(await refusal({ query: { SAMLRequest: Buffer.from('not deflate').toString('base64') }, octetString: '' })).toBe('malformed');
  });

  test('an IssueInstant older than a few minutes', async () => {
    expect(await refusal(postXml(handRequest({ instant: new Date(Date.now() - 10 * 60_000).toISOString() })))).toBe('expired');
  });

  test('a replayed request ID (Redirect and POST)', async () => {
    const r = await redirect();
    await read(r);
    expect(await refusal(r)).toBe('replayed');
    const p = await post();
    await read(p);
    expect(await refusal(p)).toBe('replayed');
  });
});

describe('signature wrapping (GHSA-63ch-w8pw-4mf2): a validly signed request lends nothing to the attacker’s document', () => {
  const attackerRequest = (inner: string, signature = '') =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso}" AssertionConsumerServiceURL="https://evil.example/acs"><saml:Issuer>${SIGNED_SP}</saml:Issuer>${signature}<samlp:Extensions><w:Wrap xmlns:w="urn:example:wrap">${inner}</w:Wrap></samlp:Extensions></samlp:AuthnRequest>`;

  test('the signed request inside the attacker’s: the attacker’s root carries no signature of its own', async () => {
    const captured = decoded(await post()).replace(/^<\?xml[^>]*>/, '');
    expect(await refusal(postXml(attackerRequest(captured)))).toBe('signature_required');
  });

  test('the signature moved up to the attacker’s root, still referencing the captured request', async () => {
    const captured = decoded(await post()).replace(/^<\?xml[^>]*>/, '');
    const signature = /<Signature[\s\S]*<\/Signature>/.exec(captured)![0];
    expect(await refusal(postXml(attackerRequest(captured.replace(signature, ''), signature)))).toBe('signature_invalid');
  });

  test('the attacker’s root takes the captured request’s ID, the captured one hidden beside it', async () => {
    const captured = decoded(await post()).replace(/^<\?xml[^>]*>/, '');
    const id = /ID="([^"]+)"/.exec(captured)![1]!;
    const signature = /<Signature[\s\S]*<\/Signature>/.exec(captured)![0];
    const forged = attackerRequest(captured.replace(signature, '').replace(`ID="${id}"`, 'ID="_hidden"'), signature).replace('ID="_evil"', `ID="${id}"`);
    expect(await refusal(postXml(forged))).toBe('signature_invalid');
  });
});
