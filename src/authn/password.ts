import { hash, verify } from '@node-rs/argon2';

/** OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1. */
const PARAMS = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** NIST SP 800-63B: long passphrases allowed, no truncation; NFKC so one password has one encoding. */
export const MAX_PASSWORD_LENGTH = 1024;
/** NIST SP 800-63B 5.1.1.2: at least 8 characters for a password the user chose. */
export const MIN_PASSWORD_LENGTH = 8;
export const normalizePassword = (p: string) => p.normalize('NFKC');

export const hashPassword = (password: string) => hash(normalizePassword(password), PARAMS);

// Verified when the account does not exist, so an unknown user costs the same time as a wrong password.
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(storedHash: string | null | undefined, password: string): Promise<boolean> {
  if (!storedHash) {
    dummyHash ??= hashPassword('not-a-real-password-used-for-timing');
    await verify(await dummyHash, normalizePassword(password)).catch(() => false);
    return false;
  }
  return verify(storedHash, normalizePassword(password)).catch(() => false);
}
