import crypto from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { FactorDescriptor } from '../../../policy/types.js';
import type { CredentialRepository } from '../../../store/repositories/credential.repository.js';
import { FactorError, eventOf, type Factor } from '../../factor.js';
import { ALPHABET, LENGTH, backupCodeSchema, normalizeBackupCode } from './backup-code.schema.js';
import { challengeView } from './backup-code.view.js';

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

/** Look-up secrets (NIST SP 800-63B §5.1.2): a second factor for recovery, single use, phishable. */
export const backupCodeDescriptor: FactorDescriptor = {
  method: 'backup_code',
  amr: ['otp'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  enrollableInLogin: false,
  recovery: true,
};

export function createBackupCodeFactor(credentials: CredentialRepository): Factor {
  const factor: Factor = {
    descriptor: backupCodeDescriptor,
    paths: { challenge: 'backup-code', manage: 'backup-codes' },
    challengeView,
    async verify(ctx, response) {
      if (typeof response !== 'string') throw new FactorError('malformed', 'code must be a string');
      const code = backupCodeSchema.safeParse(response).data;
      if (!code) throw new FactorError('invalid_code');
      const rows = await credentials.listActive(ctx.accountId, 'backup_code');
      // Every stored hash is checked, so the time taken does not depend on which code matched.
      const matches = await Promise.all(rows.map((r) => verify(r.secretHash ?? '', code).catch(() => false)));
      const row = rows.find((_, i) => matches[i]);
      if (!row || !(await credentials.consume(row.id))) throw new FactorError('invalid_code');
      return eventOf(backupCodeDescriptor, ctx.now, row.id);
    },
    recognizes: (response) => backupCodeSchema.safeParse(response).success,
    remove: async (accountId) => (await credentials.deleteKind(accountId, 'backup_code')) > 0,
    selfService: {
      summaryKey: 'backup_codes',
      status: async (_accountId, active) => ({ remaining: active }),
      /** A new set of codes, shown once; the previous set stops working in the same transaction. */
      async issue(accountId) {
        const codes = Array.from({ length: BACKUP_CODE_COUNT }, randomCode);
        const hashes = await Promise.all(codes.map((c) => hash(normalizeBackupCode(c)!, KDF)));
        await credentials.replaceKind(
          accountId,
          'backup_code',
          null,
          hashes.map((secretHash) => ({ secretHash })),
        );
        return { shown: { backup_codes: codes, remaining: codes.length }, audit: { type: 'authn.backup_codes.regenerated', data: { count: codes.length } } };
      },
    },
  };
  return factor;
}
