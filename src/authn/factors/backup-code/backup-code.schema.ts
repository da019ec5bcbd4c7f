import { z } from '../../../lib/zod.js';

/** Crockford base32 (no I, L, O, U): easy to read aloud and to type. */
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const LENGTH = 10; // 50 bits from the CSPRNG per code

/** Case, spaces and dashes do not matter; look-alikes map as Crockford intends. */
export function normalizeBackupCode(input: string): string | undefined {
  const s = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return s.length === LENGTH && [...s].every((c) => ALPHABET.includes(c)) ? s : undefined;
}

/** A backup code as typed, to its canonical form; longer input is refused before any work. */
export const backupCodeSchema = z
  .string()
  .max(32)
  .transform((input, ctx) => {
    const code = normalizeBackupCode(input);
    if (code === undefined) ctx.addIssue({ code: 'custom', message: 'not a backup code' });
    return code ?? z.NEVER;
  });
