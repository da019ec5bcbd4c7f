import crypto from 'node:crypto';
import zlib from 'node:zlib';
import samlify from 'samlify';
import type { SamlIdp } from './identity-provider.js';

const RSA_SHA256 = samlify.Constants.algorithms.signature.RSA_SHA256;

/**
 * The IdP's enveloped signature over a whole protocol message (RSA-SHA256, exclusive
 * canonicalisation), placed after its Issuer as the schema orders it; base64, as the HTTP-POST
 * binding carries it (SAML 2.0 Bindings §3.5.4).
 */
export function signEnveloped(idp: SamlIdp['idp'], xml: string, rootName: string): string {
  return samlify.SamlLib.constructSAMLSignature({
    rawSamlMessage: xml,
    isMessageSigned: true,
    signatureAlgorithm: RSA_SHA256,
    privateKey: String(idp.entitySetting.privateKey),
    signingCert: idp.entityMeta.getX509Certificate('signing') as string,
    signatureConfig: { prefix: 'ds', location: { reference: `/*[local-name(.)='${rootName}']/*[local-name(.)='Issuer']`, action: 'after' } },
  });
}

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
  const signature = crypto.sign('RSA-SHA256', Buffer.from(octets, 'utf8'), String(idp.entitySetting.privateKey)).toString('base64');
  return `${location}${location.includes('?') ? '&' : '?'}${octets}&Signature=${encodeURIComponent(signature)}`;
}
