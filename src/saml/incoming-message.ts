import crypto from 'node:crypto';
import querystring from 'node:querystring';
import zlib from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { Clock } from '../lib/clock.js';
import { IdpError } from '../lib/errors.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { SamlServiceProvider, SamlServiceProviderRepository } from '../store/repositories/saml-service-provider.repository.js';
import { validateSamlMessage } from './schema-validator.js';

export const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** A real request or response from an SP is a few KiB; the cap holds for the inflated Redirect payload and the decoded POST one alike. */
export const SAML_MESSAGE_MAX_BYTES = 64 * 1024;
/** SAML Bindings §3.4.3 says 80 bytes; real SPs send more, but never this much. */
const RELAY_STATE_MAX_BYTES = 1024;
/** How old an IssueInstant may be, and how far ahead of our clock (SAML Core §3.2.1 leaves both to the receiver). */
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

/** What a reader of an SP's messages needs: the registry, the replay counter, where it is served, and the time. */
export interface SamlMessageReaderDeps {
  providers: Pick<SamlServiceProviderRepository, 'findByEntityId'>;
  ephemeral: Pick<EphemeralStore, 'increment'>;
  issuer: string;
  clock: Clock;
}

export type SamlMessageRefusal =
  | 'malformed'
  | 'too_large'
  | 'dtd_not_allowed'
  | 'schema_invalid'
  | 'unknown_issuer'
  | 'service_provider_disabled'
  | 'signature_required'
  | 'signature_invalid'
  | 'unsupported_signature_algorithm'
  | 'wrong_destination'
  | 'acs_not_registered'
  | 'expired'
  | 'replayed'
  | 'name_id_mismatch'
  | 'unexpected_response';

/** Why a message from an SP was refused; `reason` is for the error page and the audit log. */
export class SamlMessageError extends IdpError {
  constructor(
    readonly reason: SamlMessageRefusal,
    description: string,
  ) {
    super('invalid_request', description);
    this.name = 'SamlMessageError';
  }
}

export const refuse = (reason: SamlMessageRefusal, description: string) => new SamlMessageError(reason, description);

/** The binding parameters of a message: `SAMLRequest` or `SAMLResponse` (SAML Bindings §3.4.4, §3.5.4). */
export type MessageField = 'SAMLRequest' | 'SAMLResponse';
export interface RedirectParams {
  SAMLRequest?: string;
  SAMLResponse?: string;
  RelayState?: string;
  SigAlg?: string;
  Signature?: string;
}

export type IncomingSamlMessage =
  /** `octetString`: the raw query as received, without `&Signature=…` (SAML Bindings §3.4.4.1). */
  { query: RedirectParams; octetString: string } | { body: { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string } };

function decodeBase64(value: string, field: MessageField): Buffer {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(value)) throw refuse('malformed', `${field} is not base64`);
  return Buffer.from(value, 'base64');
}

/** DEFLATE (SAML Bindings §3.4.4.1), stopped as soon as the output passes the cap: a compression bomb costs one cap's worth of work. */
function inflate(value: string, field: MessageField): string {
  const compressed = decodeBase64(value, field);
  try {
    return zlib.inflateRawSync(compressed, { maxOutputLength: SAML_MESSAGE_MAX_BYTES }).toString('utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw refuse('too_large', `${field} inflates past ${SAML_MESSAGE_MAX_BYTES} bytes`);
    throw refuse('malformed', `${field} is not DEFLATE-compressed`);
  }
}

/** The protocol element at the root, if it is one of `rootNames`; nothing else is parsed. */
function parse(xml: string, rootNames: readonly string[]): Element {
  // No parser ever sees a DTD: no entity (XXE, billion laughs) is declared, so none is expanded.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw refuse('dtd_not_allowed', 'a DOCTYPE or entity declaration is not allowed');
  let failed = false;
  const fail = () => {
    failed = true;
  };
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'application/xml');
  const root = doc?.documentElement;
  if (failed || !root) throw refuse('malformed', 'the SAML message is not well-formed XML');
  if (!rootNames.includes(root.localName) || root.namespaceURI !== PROTOCOL)
    throw refuse('malformed', `the SAML message is not a samlp:${rootNames.join(' or samlp:')}`);
  return root;
}

export const children = (parent: Element, ns: string, name: string): Element[] =>
  Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === name && (n as Element).namespaceURI === ns);
export const child = (parent: Element, ns: string, name: string): Element | undefined => children(parent, ns, name)[0];
export const text = (e: Element | undefined) => e?.textContent?.trim() ?? '';
export const attr = (e: Element | undefined, name: string) => (e?.hasAttribute(name) ? e.getAttribute(name)!.trim() : undefined);

/** The message as decoded and parsed, before any signature is checked: only good for finding whose key to check it with. */
export interface DecodedMessage {
  field: MessageField;
  xml: string;
  root: Element;
  relayState?: string;
  /** The Issuer as the message claims it. */
  claimedIssuer: string;
}

/**
 * Decodes a message from either binding, within the size caps, refusing a DTD before any parser
 * runs, and validates it against the SAML protocol schema. `rootNames` are the protocol elements
 * the endpoint accepts.
 */
export async function decodeMessage(incoming: IncomingSamlMessage, rootNames: readonly string[]): Promise<DecodedMessage> {
  const params = 'query' in incoming ? incoming.query : incoming.body;
  if (params.SAMLRequest !== undefined && params.SAMLResponse !== undefined) throw refuse('malformed', 'a message is either a SAMLRequest or a SAMLResponse');
  const field: MessageField = params.SAMLResponse !== undefined ? 'SAMLResponse' : 'SAMLRequest';
  const encoded = params[field];
  if (typeof encoded !== 'string' || !encoded) throw refuse('malformed', `${field} is missing`);
  // Base64 of the cap, so the POST payload is refused before it is decoded; DEFLATE never shrinks XML less than that.
  if (encoded.length > (SAML_MESSAGE_MAX_BYTES * 4) / 3 + 4) throw refuse('too_large', `${field} is larger than ${SAML_MESSAGE_MAX_BYTES} bytes`);
  const relayState = params.RelayState;
  if (relayState !== undefined && Buffer.byteLength(relayState) > RELAY_STATE_MAX_BYTES)
    throw refuse('too_large', `RelayState is larger than ${RELAY_STATE_MAX_BYTES} bytes`);

  const xml = 'query' in incoming ? inflate(encoded, field) : decodeBase64(encoded, field).toString('utf8');
  const root = parse(xml, rootNames);
  try {
    await validateSamlMessage(xml);
  } catch {
    throw refuse('schema_invalid', `${field} is not valid against saml-schema-protocol-2.0.xsd`);
  }
  return { field, xml, root, ...(relayState !== undefined ? { relayState } : {}), claimedIssuer: text(child(root, ASSERTION, 'Issuer')) };
}

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
 * The Redirect signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` (or SAMLResponse) exactly
 * as sent (SAML Bindings §3.4.4.1); its values must be those the message is read from.
 */
export function verifyRedirectSignature(q: RedirectParams, octetString: string, field: MessageField, sp: SamlServiceProvider): void {
  if (!q.SigAlg || !q.Signature) throw refuse('signature_required', `${sp.entityId} must sign its messages; this one carries no signature`);
  const hash = SIGNATURE_ALGORITHMS[q.SigAlg];
  if (!hash) throw refuse('unsupported_signature_algorithm', 'SigAlg is not an accepted signature algorithm (RSA with SHA-256 or stronger)');
  const signed = [...new URLSearchParams(octetString)];
  const expected = [[field, q[field]], ...(q.RelayState === undefined ? [] : [['RelayState', q.RelayState]]), ['SigAlg', q.SigAlg]];
  if (JSON.stringify(signed) !== JSON.stringify(expected)) throw refuse('signature_invalid', `the signed query is not ${field}, RelayState, SigAlg as sent`);
  const signature = decodeBase64(q.Signature, field);
  const verifies = (octets: string) => sp.signingCertificates.some((pem) => crypto.verify(hash, Buffer.from(octets, 'utf8'), publicKeyOf(pem), signature));
  // The octets as received first (SAML Bindings §3.4.4.1). Some SPs sign one percent-encoding of the
  // values and send another (node-saml signs Node's `querystring` form): the same values re-encoded
  // those ways are tried too. Each is built from exactly the values the message is read from, so the
  // signature still covers everything acted on.
  const reencoded = (escape: (v: string) => string) => expected.map(([k, v]) => `${k}=${escape(v!)}`).join('&');
  const ok = [octetString, reencoded(querystring.escape), reencoded(encodeURIComponent)].some(verifies);
  if (!ok) throw refuse('signature_invalid', `the signature does not verify with a signing certificate of ${sp.entityId}`);
}

/** The enveloped signature of a POSTed message, if it has one. A Redirect message must not carry one (SAML Bindings §3.4.4.1). */
export function envelopedSignature(incoming: IncomingSamlMessage, root: Element): Element | undefined {
  const signature = child(root, DS, 'Signature');
  if (signature && 'query' in incoming) throw refuse('malformed', 'the HTTP-Redirect binding carries its signature in the query, not in the XML');
  return signature;
}

/**
 * Verifies the enveloped signature of a POSTed message and returns the message as signed: the
 * canonical bytes xml-crypto verified, parsed again, so no field can come from around or beside
 * the signed element (GHSA-63ch-w8pw-4mf2, signature wrapping). The one Reference must name the
 * document's root.
 */
export function verifyPostSignature(decoded: DecodedMessage, signature: Element, sp: SamlServiceProvider): Element {
  const { xml, root } = decoded;
  const signedInfo = child(signature, DS, 'SignedInfo');
  const method = attr(signedInfo && child(signedInfo, DS, 'SignatureMethod'), 'Algorithm') ?? '';
  const references = signedInfo ? children(signedInfo, DS, 'Reference') : [];
  const digests = references.map((r) => attr(child(r, DS, 'DigestMethod'), 'Algorithm') ?? '');
  if (!SIGNATURE_ALGORITHMS[method] || !digests.every((d) => DIGEST_ALGORITHMS.has(d))) {
    throw refuse('unsupported_signature_algorithm', 'the signature algorithm is not accepted (RSA with SHA-256 or stronger)');
  }
  if (references.length !== 1 || attr(references[0], 'URI') !== `#${root.getAttribute('ID')}`) {
    throw refuse('signature_invalid', `the signature must cover the whole ${root.localName} and nothing else`);
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
      const verified = parse(signed[0]!, [root.localName]);
      if (verified.getAttribute('ID') === root.getAttribute('ID')) return verified;
    }
  }
  throw refuse('signature_invalid', `the signature does not verify with a signing certificate of ${sp.entityId}`);
}

/** True when `instant` lies within the accepted age and skew of `now`. */
export function isFresh(instant: string | undefined, now: number): boolean {
  const issued = Date.parse(instant ?? '');
  return issued > now - MAX_AGE_MS && issued < now + CLOCK_SKEW_MS;
}

/** True the first time a message ID is seen within the freshness window: a replayed message is refused (SAML Profiles §4.1.4.5, §4.4.3). */
export async function isFirstSighting(ephemeral: Pick<EphemeralStore, 'increment'>, key: string): Promise<boolean> {
  return (await ephemeral.increment(key, Math.ceil((MAX_AGE_MS + CLOCK_SKEW_MS) / 1000))) === 1;
}
