import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { CookieJar, expectStatus, pathOf, request } from '../lib/http.js';
import { selfSigned } from '../../test/helpers/saml-sp.js';
import { login, passwordStep } from './flow.js';
import type { Target } from './target.js';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/**
 * A service provider that signs its AuthnRequests (HTTP-Redirect binding), registered through the
 * admin API with the metadata node-saml generates for it. Its requests are node-saml's, but made
 * here from a template node-saml produced once: node-saml takes about 2.7 ms per request (it
 * re-reads the PEM key each time), which would make the load generator, not the server, the limit.
 */
export interface BenchSamlSp {
  entityId: string;
  acsUrl: string;
  /** `<issuer>/saml/sso` as the request's Destination names it, and its path on the target. */
  ssoUrl: string;
  ssoPath: string;
  /** node-saml's AuthnRequest XML with `{ID}` and `{IssueInstant}` for the values each request changes. */
  template: string;
  key: crypto.KeyObject;
  /** node-saml as the SP's ACS: checks both signatures, audience, recipient and validity of a response. */
  validator: SAML;
}

export async function registerBenchSp(
  t: Target,
  adminPost: (path: string, body: unknown) => Promise<Record<string, unknown>>,
  entityId: string,
): Promise<BenchSamlSp> {
  const signing = await selfSigned(`${entityId} signing`);
  const metadata = await request(t.pool, { path: pathOf(`${t.issuer}/saml/metadata`) });
  expectStatus('saml metadata', metadata, 200);
  const idpCert = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(metadata.text)?.[1];
  if (!idpCert) throw new Error('the IdP metadata has no signing certificate');
  const ssoUrl = `${t.issuer}/saml/sso`;
  const acsUrl = `${entityId}/acs`;
  const config = {
    issuer: entityId,
    callbackUrl: acsUrl,
    audience: entityId,
    entryPoint: ssoUrl,
    idpCert,
    privateKey: signing.key,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    identifierFormat: PERSISTENT,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    // The driver checks InResponseTo itself: its requests do not pass through node-saml's request cache.
    validateInResponseTo: ValidateInResponseTo.never,
    acceptedClockSkewMs: 5000,
  } as const;
  const sp = new SAML(config);
  await adminPost('/api/v1/saml/service-providers', { metadata: sp.generateServiceProviderMetadata(null, signing.pem) });

  const sample = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const xml = zlib.inflateRawSync(Buffer.from(sample.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const template = xml.replace(/ ID="[^"]+"/, ' ID="{ID}"').replace(/ IssueInstant="[^"]+"/, ' IssueInstant="{IssueInstant}"');
  if (!template.includes('{ID}') || !template.includes('{IssueInstant}')) throw new Error(`unexpected node-saml AuthnRequest: ${xml}`);
  return { entityId, acsUrl, ssoUrl, ssoPath: pathOf(ssoUrl), template, key: crypto.createPrivateKey(signing.key), validator: sp };
}

/** A fresh signed HTTP-Redirect AuthnRequest (SAML Bindings §3.4.4.1): its ID and the query to send. */
export function signedRedirect(sp: BenchSamlSp, relayState: string): { id: string; query: string } {
  const id = `_${crypto.randomBytes(20).toString('hex')}`;
  const xml = sp.template.replace('{ID}', id).replace('{IssueInstant}', new Date().toISOString());
  const signed = `SAMLRequest=${encodeURIComponent(zlib.deflateRawSync(xml).toString('base64'))}&RelayState=${encodeURIComponent(relayState)}&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  const signature = crypto.sign('sha256', Buffer.from(signed), sp.key).toString('base64');
  return { id, query: `${signed}&Signature=${encodeURIComponent(signature)}` };
}

/** A signed-in browser: the session cookie a password login (OIDC, same SSO session) left behind. */
export async function signedInJar(t: Target, username: string, password: string): Promise<CookieJar> {
  const jar = new CookieJar();
  await login(t, { onStep: passwordStep(username, password), jar });
  return jar;
}

const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

/**
 * One SP-initiated SSO with the browser's session: GET /saml/sso?SAMLRequest…&Signature → 200 and
 * the auto-posting form. Every answer is checked to be a Success response to this request (a 200
 * form may also carry a refusal); returns the SAMLResponse for sampled full verification.
 */
export async function ssoWithSession(t: Target, sp: BenchSamlSp, jar: CookieJar, relayState: string): Promise<string> {
  const { id, query } = signedRedirect(sp, relayState);
  const res = await request(t.pool, { path: `${sp.ssoPath}?${query}`, headers: { accept: 'text/html', cookie: jar.header() ?? '' } });
  expectStatus('saml sso', res, 200);
  const samlResponse = field(res.text, 'SAMLResponse');
  if (!samlResponse) throw new Error(`saml sso: no SAMLResponse in the page: ${res.text.slice(0, 200)}`);
  if (field(res.text, 'RelayState') !== relayState) throw new Error('saml sso: RelayState not returned as sent');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (!xml.includes(`InResponseTo="${id}"`)) throw new Error('saml sso: the response does not answer this request');
  if (!xml.includes(`<samlp:StatusCode Value="${SUCCESS}"/>`)) throw new Error(`saml sso: not a Success response: ${xml.slice(0, 300)}`);
  return samlResponse;
}

/** node-saml's verdict, as the SP's ACS would give it; throws when a signature or condition fails. */
export async function spAccepts(sp: BenchSamlSp, samlResponse: string, relayState: string): Promise<void> {
  const { profile, loggedOut } = await sp.validator.validatePostResponseAsync({ SAMLResponse: samlResponse, RelayState: relayState });
  if (loggedOut || !profile?.nameID) throw new Error('node-saml: no profile in the response');
}
