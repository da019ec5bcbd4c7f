import { z } from 'zod';

/** A base64 message of the readers' cap, plus RelayState and the form's overhead. */
export const SAML_POST_BODY_BYTES = 96 * 1024;

/** The one-time references of a continued POST binding or a finished login. */
export const referenceParam = z.string().regex(/^[\w-]{20,64}$/, 'not a valid reference');

/**
 * The signed octets of an HTTP-Redirect message: the query exactly as received, without its
 * Signature (SAML 2.0 Bindings §3.4.4.1); re-encoding the parsed values would break signatures.
 */
export const octetString = (querystring: string) =>
  querystring
    .split('&')
    .filter((part) => !part.startsWith('Signature='))
    .join('&');
