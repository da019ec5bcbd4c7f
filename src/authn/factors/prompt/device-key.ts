import { createPublicKey, verify } from 'node:crypto';

/**
 * What a device signs, as one string with its parts on their own lines, so that no value can be
 * read as another: an answer names the prompt, the decision and the number picked; a registration
 * signs the enrolment's nonce.
 */
export const answerMessage = (promptId: string, decision: string, number: number | undefined) =>
  `idp-prompt-answer-v1\n${promptId}\n${decision}\n${number ?? ''}`;
export const registrationMessage = (nonce: string) => `idp-prompt-register-v1\n${nonce}`;

/**
 * An ES256 signature (raw r‖s, as WebCrypto makes it, base64url) by the JWK over `message`. False
 * for anything else, a key off the curve included.
 */
export function verifiesWith(jwk: Record<string, unknown>, message: string, signature: string): boolean {
  try {
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    return verify('sha256', Buffer.from(message, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** A public JWK the crypto library accepts (a point on P-256). */
export function isUsableKey(jwk: Record<string, unknown>): boolean {
  try {
    createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}
