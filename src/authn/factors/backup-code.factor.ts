import crypto from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { CredentialRepository } from '../../store/repositories/credential.repository.js';
import { FactorError, type Factor } from '../factor.js';

/** Crockford base32 (no I, L, O, U): easy to read aloud and to type. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const LENGTH = 10; // 50 bits from the CSPRNG per code
export const BACKUP_CODE_COUNT = 10;

/**
 * Look-up secrets under 112 bits must be stored with a salted password KDF (NIST SP 800-63B
 * §5.1.2.2): argon2id, lighter than for passwords because the secret itself is random.
 */
const KDF = { algorithm: 2 /* Argon2id */, memoryCost: 8192, timeCost: 1, parallelism: 1 } as const;

function randomCode(): string {
  let out = '';
  for (const byte of crypto.randomBytes(LENGTH)) out += ALPHABET[byte & 31];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** Case, spaces and dashes do not matter; look-alikes map as Crockford intends. */
export function normalizeBackupCode(input: string): string | undefined {
  const s = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return s.length === LENGTH && [...s].every((c) => ALPHABET.includes(c)) ? s : undefined;
}

export function createBackupCodeFactor(credentials: CredentialRepository) {
  const factor: Factor = {
    kind: 'backup_code', method: 'backup_code', secondFactor: true, phishingResistant: false,
    async verify(ctx, response) {
      if (typeof response !== 'string') throw new FactorError('malformed', 'code must be a string');
      const code = response.length <= 32 ? normalizeBackupCode(response) : undefined;
      if (!code) throw new FactorError('invalid_code');
      const rows = await credentials.listActive(ctx.accountId, 'backup_code');
      // Every stored hash is checked, so the time taken does not depend on which code matched.
      const matches = await Promise.all(rows.map((r) => verify(r.secretHash ?? '', code).catch(() => false)));
      const row = rows.find((_, i) => matches[i]);
      if (!row || !(await credentials.consume(row.id))) throw new FactorError('invalid_code');
      return { factor: 'backup_code', at: ctx.now, credentialId: row.id, secondFactor: true, phishingResistant: false };
    },
  };

  return {
    factor,
    /** A new set of codes, shown once; the previous set stops working in the same transaction. */
    async generate(accountId: string): Promise<string[]> {
      const codes = Array.from({ length: BACKUP_CODE_COUNT }, randomCode);
      const hashes = await Promise.all(codes.map((c) => hash(normalizeBackupCode(c)!, KDF)));
      await credentials.replaceKind(accountId, 'backup_code', null, hashes.map((secretHash) => ({ secretHash })));
      return codes;
    },
    remaining: async (accountId: string) => (await credentials.listActive(accountId, 'backup_code')).length,
  };
}

export type BackupCodeFactor = ReturnType<typeof createBackupCodeFactor>;
