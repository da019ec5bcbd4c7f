// @peculiar/x509 needs the reflect polyfill loaded before it (the server library depends on both).
import 'reflect-metadata';
import { isoUint8Array } from '@simplewebauthn/server/helpers';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';

/** WebAuthn Level 3 §8.2.1: the packed attestation certificate's AAGUID extension, id-fido-gen-ce-aaguid. */
export const FIDO_GEN_CE_AAGUID_OID = '1.3.6.1.4.1.45724.1.1.4';

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface AttestationCa {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
}

export interface AttestationSigner {
  /** The attestation certificate (x5c[0]) and any further certificates the authenticator sends. */
  x5c: Uint8Array<ArrayBuffer>[];
  /** The attestation private key, for the `sig` of the attestation statement (ES256). */
  privateKey: KeyObject;
}

/** A self-signed root CA for attestation certificates, valid from yesterday for a year. */
export async function createAttestationCa(commonName = 'Soft Authenticator Root CA'): Promise<AttestationCa> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}, O=Soft Authenticator Test, C=DE`,
    keys,
    signingAlgorithm: ecdsa,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  return { cert, keys, pem: cert.toString('pem') };
}

export interface AttestationCertOptions {
  /** Written into id-fido-gen-ce-aaguid when given; omitted otherwise (the extension is optional). */
  aaguid?: Uint8Array<ArrayBuffer>;
  /** WebAuthn Level 3 §8.2.1 requires 'Authenticator Attestation'; other values forge a bad certificate. */
  organizationalUnit?: string;
  /** WebAuthn Level 3 §8.2.1 requires CA false; true forges a bad certificate. */
  isCa?: boolean;
  /** Also send the CA certificate in x5c after the leaf, as some authenticators do. */
  includeCa?: boolean;
}

/** A packed attestation certificate signed by `ca`, with the requirements of WebAuthn Level 3 §8.2.1 (version 3, OU, CA false). */
export async function createAttestationSigner(ca: AttestationCa, opts: AttestationCertOptions = {}): Promise<AttestationSigner> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(opts.isCa ?? false, undefined, true)];
  if (opts.aaguid) {
    // The extension value is a DER OCTET STRING wrapping the 16 AAGUID bytes.
    const der = isoUint8Array.concat([Uint8Array.of(0x04, opts.aaguid.length), opts.aaguid]);
    extensions.push(new x509.Extension(FIDO_GEN_CE_AAGUID_OID, false, der));
  }
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=Soft Authenticator Attestation, OU=${opts.organizationalUnit ?? 'Authenticator Attestation'}, O=Soft Authenticator Test, C=DE`,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ecdsa,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    extensions,
  });
  const x5c = [new Uint8Array(cert.rawData)];
  if (opts.includeCa) x5c.push(new Uint8Array(ca.cert.rawData));
  return { x5c, privateKey: KeyObject.from(keys.privateKey) };
}
