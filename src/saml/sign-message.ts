import crypto, { type KeyObject } from 'node:crypto';
import zlib from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import type { SamlIdp } from './identity-provider.js';

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

/** The IdP's private key, parsed once per key set (identity-provider.ts); samlify's settings type calls it a string. */
const keyOf = (idp: SamlIdp['idp']) => idp.entitySetting.privateKey as unknown as KeyObject;

/**
 * An enveloped signature (RSA-SHA256, exclusive canonicalisation) over the element `reference`
 * selects, placed after its Issuer as the schema orders it. Signed with xml-crypto directly:
 * samlify's own signer parses the signing certificate twice per signature.
 */
export function signXml(idp: SamlIdp['idp'], xml: string, reference: string): string {
  const certificate = idp.entityMeta.getX509Certificate('signing') as string;
  const signer = new SignedXml({
    privateKey: keyOf(idp),
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () => `<ds:X509Data><ds:X509Certificate>${certificate}</ds:X509Certificate></ds:X509Data>`,
  });
  signer.addReference({ xpath: reference, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  signer.computeSignature(xml, { prefix: 'ds', location: { reference: `${reference}/*[local-name(.)='Issuer']`, action: 'after' } });
  return signer.getSignedXml();
}

/** A whole protocol message signed by the IdP, base64 as the HTTP-POST binding carries it (SAML 2.0 Bindings §3.5.4). */
export const signEnveloped = (idp: SamlIdp['idp'], xml: string, rootName: string): string =>
  Buffer.from(signXml(idp, xml, `/*[local-name(.)='${rootName}']`)).toString('base64');

/**
 * The HTTP-Redirect binding's URL (SAML 2.0 Bindings §3.4.4.1): the message DEFLATEd into the
 * query, and the IdP's RSA-SHA256 signature over `field=…&RelayState=…&SigAlg=…` exactly as sent.
 */
export function signedRedirectUrl(
  idp: SamlIdp['idp'],
  location: string,
  field: 'SAMLRequest' | 'SAMLResponse',
  xml: string,
  relayState: string | undefined,
): string {
  const params = new URLSearchParams({ [field]: zlib.deflateRawSync(xml).toString('base64') });
  if (relayState !== undefined) params.set('RelayState', relayState);
  params.set('SigAlg', RSA_SHA256);
  const octets = params.toString();
  const signature = crypto.sign('RSA-SHA256', Buffer.from(octets, 'utf8'), keyOf(idp)).toString('base64');
  return `${location}${location.includes('?') ? '&' : '?'}${octets}&Signature=${encodeURIComponent(signature)}`;
}
