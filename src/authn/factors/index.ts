import type { Clock } from '../../lib/clock.js';
import type { SecretBox } from '../../lib/crypto.js';
import type { MfaMethod } from '../../policy/types.js';
import type { CredentialRepository } from '../../store/repositories/credential.repository.js';
import type { Factor } from '../factor.js';
import { createBackupCodeFactor } from './backup-code.factor.js';
import { createTotpFactor } from './totp.factor.js';

/** Every MFA method, one module each; the registry is the only place that lists them. */
export function createFactorRegistry(deps: { credentials: CredentialRepository; box: SecretBox; clock: Clock }) {
  const totp = createTotpFactor(deps);
  const backupCodes = createBackupCodeFactor(deps.credentials);
  const byMethod = new Map<MfaMethod, Factor>([[totp.factor.method, totp.factor], [backupCodes.factor.method, backupCodes.factor]]);
  return {
    totp,
    backupCodes,
    get: (method: MfaMethod) => byMethod.get(method),
    /** Methods this account can use now, from one query. */
    async enrolledMethods(accountId: string): Promise<MfaMethod[]> {
      const counts = await deps.credentials.countActiveByKind(accountId);
      return [...byMethod.values()].filter((f) => (counts[f.kind] ?? 0) > 0).map((f) => f.method);
    },
  };
}

export type FactorRegistry = ReturnType<typeof createFactorRegistry>;
