import crypto from 'node:crypto';
import { hmac, randomToken } from '../lib/crypto.js';

/** What a secret of a request is for: each is hashed apart, so one never answers for another. */
export type RecoverySecret = 'confirm' | 'request' | 'cancel';

/**
 * Keyed hashes of a request's secrets, bound to the request: a token or code of one request
 * hashes to something else under any other request's id.
 */
export function createRecoverySecrets(key: Buffer | string) {
  return {
    hash: (purpose: RecoverySecret, requestId: string, secret: string) => hmac(key, `${purpose}:${requestId}:${secret}`),
    /** 256 bits, base64url (43 characters). */
    token: () => randomToken(32),
    /** Eight digits for a code read from an SMS; the request's tries are limited (five). */
    code: () => String(crypto.randomInt(0, 100_000_000)).padStart(8, '0'),
  };
}

export type RecoverySecrets = ReturnType<typeof createRecoverySecrets>;
