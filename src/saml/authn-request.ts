import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Clock } from '../lib/clock.js';
import { IdpError } from '../lib/errors.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { SamlServiceProvider, SamlServiceProviderRepository } from '../store/repositories/saml-service-provider.repository.js';
import { samlEndpoints } from './identity-provider.js';
import { validateSamlMessage } from './schema-validator.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** A real AuthnRequest is a few KiB; the cap holds for the inflated Redirect payload and the decoded POST one alike. */
export const AUTHN_REQUEST_MAX_BYTES = 64 * 1024;
/** SAML Bindings §3.4.3 says 80 bytes; real SPs send more, but never this much. */
const RELAY_STATE_MAX_BYTES = 1024;
/** How old an IssueInstant may be, and how far ahead of our clock (SAML Core §3.2.1 leaves both to the IdP). */
const MAX_AGE_MS = 5 * 60_000;
const CLOCK_SKEW_MS = 60_000;

/**
 * The signature algorithms a Redirect SigAlg or an XML SignatureMethod may name, with the hash
 * node:crypto verifies with. SHA-1 is not among them (NIST SP 800-131A: disallowed for signatures).
 */
const SIGNATURE_ALGORITHMS: Record<string, string> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'RSA-SHA256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': 'RSA-SHA384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'RSA-SHA512',
};
const DIGEST_ALGORITHMS = new Set([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);

export type AuthnRequestRefusal =
  | 'malformed'
  | 'too_large'
  | 'dtd_not_allowed'
  | 'schema_invalid'
  | 'unknown_issuer'
  | 'signature_required'
  | 'signature_invalid'
  | 'unsupported_signature_algorithm'
  | 'wrong_destination'
  | 'acs_not_registered'
  | 'expired'
  | 'replayed';

/** Why an AuthnRequest was refused; `reason` is for the error page and the audit log. */
export class AuthnRequestError extends IdpError {
  constructor(
    readonly reason: AuthnRequestRefusal,
    description: string,
  ) {
    super('invalid_request', description);
    this.name = 'AuthnRequestError';
  }
}

const refuse = (reason: AuthnRequestRefusal, description: string) => new AuthnRequestError(reason, description);

export type IncomingAuthnRequest =
  /** `octetString`: the raw query as received, without `&Signature=…` (SAML Bindings §3.4.4.1). */
  | { query: { SAMLRequest?: string; RelayState?: string; SigAlg?: string; Signature?: string }; octetString: string }
  | { body: { SAMLRequest?: string; RelayState?: string } };

export interface ValidatedAuthnRequest {
  id: string;
  sp: SamlServiceProvider;
  /** Always one of the SP's registered HTTP-POST endpoints, never a URL taken from the request. */
  acsUrl: string;
  relayState?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  requestedContexts?: { classRefs: string[]; comparison: 'exact' | 'minimum' | 'maximum' | 'better' };
  nameIdFormat?: string;
}

function decodeBase64(value: string): Buffer {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(value)) throw refuse('malformed', 'SAMLRequest is not base64');
  return Buffer.from(value, 'base64');
}

/** DEFLATE (SAML Bindings §3.4.4.1), stopped as soon as the output passes the cap: a compression bomb costs one cap's worth of work. */
function inflate(value: string): string {
  const compressed = decodeBase64(value);
  try {
    return zlib.inflateRawSync(compressed, { maxOutputLength: AUTHN_REQUEST_MAX_BYTES }).toString('utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw refuse('too_large', `SAMLRequest inflates past ${AUTHN_REQUEST_MAX_BYTES} bytes`);
    throw refuse('malformed', 'SAMLRequest is not DEFLATE-compressed');
  }
}

function parse(xml: string): Element {
  // No parser ever sees a DTD: no entity (XXE, billion laughs) is declared, so none is expanded.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw refuse('dtd_not_allowed', 'a DOCTYPE or entity declaration is not allowed');
  let failed = false;
  const fail = () => {
    failed = true;
  };
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'application/xml');
  const root = doc?.documentElement;
  if (failed || !root) throw refuse('malformed', 'SAMLRequest is not well-formed XML');
  if (root.localName !== 'AuthnRequest' || root.namespaceURI !== PROTOCOL) throw refuse('malformed', 'SAMLRequest is not a samlp:AuthnRequest');
  return root;
}

const children = (parent: Element, ns: string, name: string): Element[] =>
  Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === name && (n as Element).namespaceURI === ns);
const child = (parent: Element, ns: string, name: string): Element | undefined => children(parent, ns, name)[0];
const text = (e: Element | undefined) => e?.textContent?.trim() ?? '';
const attr = (e: Element | undefined, name: string) => (e?.hasAttribute(name) ? e.getAttribute(name)!.trim() : undefined);
const isTrue = (v: string | undefined) => v === 'true' || v === '1';

/** Parsed certificates' keys by PEM: parsing one costs more than the RSA verify itself. Bounded; a new registry's PEMs start it over. */
const publicKeys = new Map<string, crypto.KeyObject>();
const PUBLIC_KEYS_MAX = 1024;
function publicKeyOf(pem: string): crypto.KeyObject {
  let key = publicKeys.get(pem);
  if (!key) {
    if (publicKeys.size >= PUBLIC_KEYS_MAX) publicKeys.clear();
    key = new crypto.X509Certificate(pem).publicKey;
    publicKeys.set(pem, key);
  }
  return key;
}

/**
 * The Redirect signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as sent (SAML
 * Bindings §3.4.4.1); its values must be those the request is read from.
 */
function verifyRedirectSignature(
  q: { SAMLRequest?: string; RelayState?: string; SigAlg?: string; Signature?: string },
  octetString: string,
  sp: SamlServiceProvider,
) {
  if (!q.SigAlg || !q.Signature) throw refuse('signature_required', `${sp.entityId} signs its requests; this one carries no signature`);
  const hash = SIGNATURE_ALGORITHMS[q.SigAlg];
  if (!hash) throw refuse('unsupported_signature_algorithm', 'SigAlg is not an accepted signature algorithm (RSA with SHA-256 or stronger)');
  const signed = [...new URLSearchParams(octetString)];
  const expected = [['SAMLRequest', q.SAMLRequest], ...(q.RelayState === undefined ? [] : [['RelayState', q.RelayState]]), ['SigAlg', q.SigAlg]];
  if (JSON.stringify(signed) !== JSON.stringify(expected)) throw refuse('signature_invalid', 'the signed query is not SAMLRequest, RelayState, SigAlg as sent');
  const signature = decodeBase64(q.Signature);
  const ok = sp.signingCertificates.some((pem) => crypto.verify(hash, Buffer.from(octetString, 'utf8'), publicKeyOf(pem), signature));
  if (!ok) throw refuse('signature_invalid', `the signature does not verify with a signing certificate of ${sp.entityId}`);
}

/**
 * Verifies the enveloped signature of a POSTed request and returns the request as signed: the
 * canonical bytes xml-crypto verified, parsed again, so no field can come from around or beside
 * the signed element (GHSA-63ch-w8pw-4mf2, signature wrapping). The one Reference must name the
 * document's root.
 */
function verifyPostSignature(xml: string, root: Element, signature: Element, sp: SamlServiceProvider): Element {
  const signedInfo = child(signature, DS, 'SignedInfo');
  const method = attr(signedInfo && child(signedInfo, DS, 'SignatureMethod'), 'Algorithm') ?? '';
  const references = signedInfo ? children(signedInfo, DS, 'Reference') : [];
  const digests = references.map((r) => attr(child(r, DS, 'DigestMethod'), 'Algorithm') ?? '');
  if (!SIGNATURE_ALGORITHMS[method] || !digests.every((d) => DIGEST_ALGORITHMS.has(d))) {
    throw refuse('unsupported_signature_algorithm', 'the signature algorithm is not accepted (RSA with SHA-256 or stronger)');
  }
  if (references.length !== 1 || attr(references[0], 'URI') !== `#${root.getAttribute('ID')}`) {
    throw refuse('signature_invalid', 'the signature must cover the whole AuthnRequest and nothing else');
  }
  for (const publicCert of sp.signingCertificates) {
    const verifier = new SignedXml({ publicCert, getCertFromKeyInfo: () => null });
    verifier.loadSignature(signature);
    let valid = false;
    try {
      valid = verifier.checkSignature(xml);
    } catch {
      valid = false;
    }
    const signed = verifier.getSignedReferences();
    if (valid && signed.length === 1) {
      const verified = parse(signed[0]!);
      if (verified.getAttribute('ID') === root.getAttribute('ID')) return verified;
    }
  }
  throw refuse('signature_invalid', `the signature does not verify with a signing certificate of ${sp.entityId}`);
}

/** The ACS the response goes to: named by URL or index, or the SP's default; always an HTTP-POST endpoint of its metadata. */
function chooseAcs(request: Element, sp: SamlServiceProvider): string {
  const post = sp.acsEndpoints.filter((e) => e.binding === HTTP_POST);
  const url = attr(request, 'AssertionConsumerServiceURL');
  const index = attr(request, 'AssertionConsumerServiceIndex');
  const binding = attr(request, 'ProtocolBinding');
  if (binding !== undefined && binding !== HTTP_POST) throw refuse('acs_not_registered', 'responses are sent with the HTTP-POST binding only');
  const chosen =
    url !== undefined
      ? post.find((e) => e.location === url)
      : index !== undefined
        ? post.find((e) => e.index === Number(index))
        : (post.find((e) => e.isDefault) ?? post[0]);
  if (!chosen) throw refuse('acs_not_registered', `the AssertionConsumerService asked for is not an HTTP-POST endpoint in the metadata of ${sp.entityId}`);
  return chosen.location;
}

function requestedContexts(request: Element): ValidatedAuthnRequest['requestedContexts'] {
  const requested = child(request, PROTOCOL, 'RequestedAuthnContext');
  if (!requested) return undefined;
  const comparison = (attr(requested, 'Comparison') ?? 'exact') as NonNullable<ValidatedAuthnRequest['requestedContexts']>['comparison'];
  return { classRefs: children(requested, ASSERTION, 'AuthnContextClassRef').map(text), comparison };
}

export interface AuthnRequestReaderDeps {
  providers: Pick<SamlServiceProviderRepository, 'findByEntityId'>;
  ephemeral: Pick<EphemeralStore, 'increment'>;
  issuer: string;
  clock: Clock;
}

/**
 * Reads an AuthnRequest as it reaches the SSO endpoint (SAML Bindings §3.4 Redirect, §3.5 POST)
 * and returns what the login acts on, or throws an AuthnRequestError. Nothing an attacker chooses
 * survives unchecked: the issuer is a registered SP, the signature its metadata demands is
 * verified, every field comes from the verified element, and the ACS comes from the metadata.
 */
export function createAuthnRequestReader(deps: AuthnRequestReaderDeps) {
  const ssoUrl = samlEndpoints(deps.issuer).sso;

  return async function readAuthnRequest(incoming: IncomingAuthnRequest): Promise<ValidatedAuthnRequest> {
    const params = 'query' in incoming ? incoming.query : incoming.body;
    const encoded = params.SAMLRequest;
    if (typeof encoded !== 'string' || !encoded) throw refuse('malformed', 'SAMLRequest is missing');
    // Base64 of the cap, so the POST payload is refused before it is decoded; DEFLATE never shrinks XML less than that.
    if (encoded.length > (AUTHN_REQUEST_MAX_BYTES * 4) / 3 + 4) throw refuse('too_large', `SAMLRequest is larger than ${AUTHN_REQUEST_MAX_BYTES} bytes`);
    const relayState = params.RelayState;
    if (relayState !== undefined && Buffer.byteLength(relayState) > RELAY_STATE_MAX_BYTES)
      throw refuse('too_large', `RelayState is larger than ${RELAY_STATE_MAX_BYTES} bytes`);

    const xml = 'query' in incoming ? inflate(encoded) : decodeBase64(encoded).toString('utf8');
    const root = parse(xml);
    try {
      await validateSamlMessage(xml);
    } catch {
      throw refuse('schema_invalid', 'SAMLRequest is not valid against saml-schema-protocol-2.0.xsd');
    }

    // Read before verification only to find whose certificate to verify with; read again from the verified element.
    const claimedIssuer = text(child(root, ASSERTION, 'Issuer'));
    const sp = claimedIssuer ? await deps.providers.findByEntityId(claimedIssuer) : undefined;
    if (!sp) throw refuse('unknown_issuer', 'the Issuer is not a registered service provider');

    // A signature is verified whenever one is sent, and required when the SP's metadata says AuthnRequestsSigned.
    let request = root;
    let signed = false;
    const envelopedSignature = child(root, DS, 'Signature');
    if ('query' in incoming) {
      if (envelopedSignature) throw refuse('malformed', 'the HTTP-Redirect binding carries its signature in the query, not in the XML');
      signed = sp.authnRequestsSigned || incoming.query.Signature !== undefined || incoming.query.SigAlg !== undefined;
      if (signed) verifyRedirectSignature(incoming.query, incoming.octetString, sp);
    } else if (envelopedSignature) {
      request = verifyPostSignature(xml, root, envelopedSignature, sp);
      signed = true;
    } else if (sp.authnRequestsSigned) {
      throw refuse('signature_required', `${sp.entityId} signs its requests; this one carries no signature`);
    }

    if (text(child(request, ASSERTION, 'Issuer')) !== sp.entityId) throw refuse('unknown_issuer', 'the signed Issuer is not the service provider verified');
    const destination = attr(request, 'Destination');
    // A signed request must name where it is going (SAML Bindings §3.4.5.2, §3.5.5.2), so it cannot be replayed at another IdP.
    if (destination !== ssoUrl && (destination !== undefined || signed)) throw refuse('wrong_destination', `Destination must be ${ssoUrl}`);

    const issued = Date.parse(attr(request, 'IssueInstant') ?? '');
    const now = deps.clock.now();
    if (!(issued > now - MAX_AGE_MS && issued < now + CLOCK_SKEW_MS)) throw refuse('expired', 'IssueInstant is too old or in the future');
    const acsUrl = chooseAcs(request, sp);

    const id = attr(request, 'ID')!;
    const firstSeen = (await deps.ephemeral.increment(`saml:authn-request:${sp.id}:${id}`, Math.ceil((MAX_AGE_MS + CLOCK_SKEW_MS) / 1000))) === 1;
    if (!firstSeen) throw refuse('replayed', 'this AuthnRequest was received before');

    const nameIdFormat = attr(child(request, PROTOCOL, 'NameIDPolicy'), 'Format');
    const contexts = requestedContexts(request);
    return {
      id,
      sp,
      acsUrl,
      ...(relayState !== undefined ? { relayState } : {}),
      forceAuthn: isTrue(attr(request, 'ForceAuthn')),
      isPassive: isTrue(attr(request, 'IsPassive')),
      ...(contexts ? { requestedContexts: contexts } : {}),
      ...(nameIdFormat ? { nameIdFormat } : {}),
    };
  };
}

export type AuthnRequestReader = ReturnType<typeof createAuthnRequestReader>;
