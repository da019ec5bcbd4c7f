import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import { randomToken } from '../lib/crypto.js';
import { IdpError, badRequest } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { Aal } from '../policy/types.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { MfaService, Outcome, RequestMeta } from './mfa.service.js';
import { hashPassword, verifyPassword } from './password.js';

/**
 * A temporary password for account recovery: 144 random bits from the CSPRNG, so that nobody (the
 * administrator included) chooses it, shown once and stored only as its argon2id hash.
 */
export const newTemporaryPassword = (): string => randomToken(18);

export interface PasswordChangeDeps {
  accounts: Pick<AccountRepository, 'findById' | 'replaceTemporaryPassword'>;
  mfa: Pick<MfaService, 'transactions' | 'passwordChanged'>;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
}

/**
 * The `password_change` step of a login signed in with a temporary password: the user's new
 * password replaces exactly the temporary one this login proved, once (a compare-and-set on its
 * expiry), so concurrent or replayed changes make one change; then the login goes on.
 */
export function createPasswordChange(deps: PasswordChangeDeps) {
  const { accounts, mfa, clock } = deps;
  const notHere = () => new IdpError('invalid_step', 'this interaction is not at the password_change step');

  return {
    async change(input: { uid: string; newPassword: string; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await mfa.transactions.get(input.uid);
      if (tx?.stage !== 'password_change' || tx.temporaryPasswordUntil === undefined) throw notHere();
      const user = await accounts.findById(tx.accountId);
      if (!user || user.status !== 'active') throw new IdpError('invalid_request', 'the account is no longer available');
      const until = tx.temporaryPasswordUntil;
      if (user.passwordTemporaryUntil?.getTime() !== until || until <= clock.now()) {
        // Expired while the login waited, or replaced by a newer temporary password: this login is over.
        await mfa.transactions.clear(input.uid);
        throw new IdpError('invalid_step', 'the temporary password is no longer valid: sign in again');
      }
      if (await verifyPassword(user.passwordHash, input.newPassword)) throw badRequest('new_password: must differ from the temporary password');
      const replaced = await accounts.replaceTemporaryPassword(user.id, new Date(until), await hashPassword(input.newPassword), clock.now());
      if (!replaced) throw notHere();
      deps.metrics.passwordChanges.inc({ reason: 'temporary_password' });
      await deps.audit.record({
        type: 'authn.password.changed',
        outcome: 'success',
        subject: user.id,
        organizationId: user.organizationId,
        ip: input.ip,
        requestId: input.requestId,
        data: { reason: 'temporary_password' },
      });
      return mfa.passwordChanged(input);
    },
  };
}

export type PasswordChange = ReturnType<typeof createPasswordChange>;
