import { X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import type { SamlEndpoint } from '../store/database.js';
import { metadataSchemaErrors } from './metadata-schema.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/**
 * Under the admin API's JSON body limit (64 KiB by default), so an oversized document is named as
 * such; real SP metadata with a few certificates is a few KiB.
 */
export const METADATA_MAX_BYTES = 48 * 1024;

type Endpoint = SamlEndpoint;

/** What an SP's metadata says, once it has passed every check below. */
export interface SpMetadata {
  entityId: string;
  acs: Endpoint[];
  slo: Endpoint[];
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  nameIdFormats: string[];
  /** PEM; a KeyDescriptor without `use` serves both purposes (SAML 2.0 Metadata §2.4.1.1). */
  signingCertificates: string[];
  encryptionCertificates: string[];
}

export class SpMetadataError extends Error {
  constructor(problem: string) {
    super(`metadata: ${problem}`);
    this.name = 'SpMetadataError';
  }
}

/** Where the IdP may post assertions or logout messages: TLS, or the loopback host during development. */
export function isAllowedEndpoint(location: string): boolean {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
}

const children = (parent: Element, name: string, ns = MD): Element[] =>
  Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === name && (n as Element).namespaceURI === ns);

const isTrue = (v: string | null) => v === 'true' || v === '1';

function endpoints(descriptor: Element, name: string): Endpoint[] {
  return children(descriptor, name).map((e) => {
    const location = e.getAttribute('Location')!.trim();
    if (!isAllowedEndpoint(location)) throw new SpMetadataError(`${name} Location ${JSON.stringify(location.slice(0, 200))} is not an https URL`);
    const responseLocation = e.getAttribute('ResponseLocation')?.trim();
    if (responseLocation && !isAllowedEndpoint(responseLocation)) {
      throw new SpMetadataError(`${name} ResponseLocation ${JSON.stringify(responseLocation.slice(0, 200))} is not an https URL`);
    }
    const index = e.getAttribute('index');
    return {
      binding: e.getAttribute('Binding')!.trim(),
      location,
      ...(responseLocation ? { responseLocation } : {}),
      ...(index !== null && index !== '' ? { index: Number(index), isDefault: isTrue(e.getAttribute('isDefault')) } : {}),
    };
  });
}

function toPem(base64: string): string {
  const body = base64.replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The certificates of the KeyDescriptors for one use, each checked to parse as X.509. */
function certificates(descriptor: Element, use: 'signing' | 'encryption'): string[] {
  const pems: string[] = [];
  for (const kd of children(descriptor, 'KeyDescriptor')) {
    const kdUse = kd.getAttribute('use');
    if (kdUse && kdUse !== use) continue;
    for (const keyInfo of children(kd, 'KeyInfo', DS)) {
      for (const data of children(keyInfo, 'X509Data', DS)) {
        for (const cert of children(data, 'X509Certificate', DS)) {
          const pem = toPem(cert.textContent ?? '');
          try {
            new X509Certificate(pem);
          } catch {
            throw new SpMetadataError(`a ${kdUse ?? 'signing and encryption'} KeyDescriptor holds an X509Certificate that is not a valid certificate`);
          }
          pems.push(pem);
        }
      }
    }
  }
  return pems;
}

function parseXml(text: string): Document {
  const problems: string[] = [];
  const record = (msg: unknown) =>
    problems.push(
      String(msg)
        .split('\n')[0]!
        .replace(/^\[xmldom \w+\]\s*/, ''),
    );
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: record, fatalError: record } }).parseFromString(text, 'application/xml');
  if (problems.length || !doc?.documentElement) throw new SpMetadataError(`not well-formed XML (${problems[0] ?? 'no root element'})`);
  return doc;
}

/**
 * Reads an SP's metadata document (SAML 2.0 Metadata §2.4.4), refusing what the IdP must never act on.
 * DTDs are refused before any parser sees the text: no entity of any kind (XXE, billion laughs)
 * is ever expanded.
 */
export async function parseSpMetadata(text: string): Promise<SpMetadata> {
  if (Buffer.byteLength(text, 'utf8') > METADATA_MAX_BYTES) throw new SpMetadataError(`larger than ${METADATA_MAX_BYTES} bytes`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new SpMetadataError('a DOCTYPE or entity declaration is not allowed');
  const root = parseXml(text).documentElement;
  if (root.localName !== 'EntityDescriptor' || root.namespaceURI !== MD)
    throw new SpMetadataError(`the root element must be one md:EntityDescriptor, not ${root.localName}`);
  const schemaErrors = await metadataSchemaErrors(text);
  if (schemaErrors.length) throw new SpMetadataError(`not valid against saml-schema-metadata-2.0.xsd (${schemaErrors[0]})`);

  const sps = children(root, 'SPSSODescriptor');
  if (sps.length !== 1) throw new SpMetadataError(sps.length ? 'more than one SPSSODescriptor' : 'no SPSSODescriptor (is this an identity provider?)');
  const sp = sps[0]!;
  if (!(sp.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(SAML2_PROTOCOL)) {
    throw new SpMetadataError(`the SPSSODescriptor does not support ${SAML2_PROTOCOL}`);
  }
  const acs = endpoints(sp, 'AssertionConsumerService');
  if (!acs.some((e) => e.binding === HTTP_POST)) throw new SpMetadataError('no AssertionConsumerService with the HTTP-POST binding');
  return {
    entityId: root.getAttribute('entityID')!.trim(),
    acs,
    slo: endpoints(sp, 'SingleLogoutService'),
    authnRequestsSigned: isTrue(sp.getAttribute('AuthnRequestsSigned')),
    wantAssertionsSigned: isTrue(sp.getAttribute('WantAssertionsSigned')),
    nameIdFormats: children(sp, 'NameIDFormat').map((e) => (e.textContent ?? '').trim()),
    signingCertificates: certificates(sp, 'signing'),
    encryptionCertificates: certificates(sp, 'encryption'),
  };
}
