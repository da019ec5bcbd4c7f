import type { Actor, FactorOutcomes } from '../authn/factor-outcomes.js';
import type { FactorRegistry } from '../authn/factors/registry.js';
import { hashPassword } from '../authn/password.js';
import { newTemporaryPassword } from '../authn/temporary-password.js';
import type { Clock } from '../lib/clock.js';
import { badRequest } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { MfaMethod } from '../policy/types.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';
import type { Caller } from './changed-by.js';
import { findReachable } from './user.service.js';

export interface UserRecoveryDeps {
  accounts: Pick<AccountRepository, 'findById' | 'update' | 'setTemporaryPassword'>;
  credentials: Pick<CredentialRepository, 'deleteKind'>;
  factors: Pick<FactorRegistry, 'get' | 'methods'>;
  outcomes: Pick<FactorOutcomes, 'changed'>;
  metrics: Metrics;
  clock: Clock;
  /** How long a temporary password signs in. */
  temporaryPasswordSeconds: number;
}

/** The audit trail's view of an admin caller acting on a user. */
const actorOf = (by: Caller): Actor => ({ actor: by.actor ?? undefined, ip: by.ip ?? undefined, requestId: by.requestId ?? undefined, via: 'admin_api' });

/**
 * Account recovery by an administrator, so that a user who lost their factors or password is never
 * locked out for good: a reset of their factors and a temporary password that signs in only into a
 * change of password. Each ends the user's sessions and trusted devices, as any factor change does
 * (`outcomes.changed`), and is audited and counted.
 */
export function createUserRecoveryService(deps: UserRecoveryDeps) {
  const { accounts, factors, clock } = deps;

  return {
    /**
     * Removes every factor, or those of one method, through each method's own removal (its
     * pending enrolments and method-specific rows included). The "last factor" rule of
     * self-service does not apply: this is how a user without a usable factor gets back in. The
     * second-factor lock goes with the factors it counted against.
     */
    async resetFactors(id: string, method: string | undefined, by: Caller) {
      const user = await findReachable(accounts, id, by);
      if (method !== undefined && !factors.get(method as MfaMethod)) throw badRequest(`method: unknown MFA method (one of ${factors.methods.join(', ')})`);
      const methods = method === undefined ? factors.methods : [method as MfaMethod];
      const removed: MfaMethod[] = [];
      for (const m of methods) {
        const factor = factors.get(m);
        const had = factor?.remove ? await factor.remove(user.id) : (await deps.credentials.deleteKind(user.id, m)) > 0;
        if (had) removed.push(m);
      }
      await accounts.update(user.id, { mfaFailedAttempts: 0, mfaLockedUntil: null, mfaLockCount: 0 });
      await deps.outcomes.changed(user, actorOf(by), 'admin.user.factors_reset', { methods, removed });
      deps.metrics.userAdmin.inc({ action: 'factors_reset' });
      return { user: { id: user.id }, methods, removed };
    },

    /**
     * A temporary password, made here and shown once: it replaces the user's password, clears the
     * password lockout, and signs in until it expires, into a change of password only.
     */
    async temporaryPassword(id: string, by: Caller) {
      const user = await findReachable(accounts, id, by);
      const password = newTemporaryPassword();
      const until = new Date(clock.now() + deps.temporaryPasswordSeconds * 1000);
      await accounts.setTemporaryPassword(user.id, await hashPassword(password), until);
      await deps.outcomes.changed(user, actorOf(by), 'admin.user.temporary_password_issued', { expires_at: until.toISOString() });
      deps.metrics.userAdmin.inc({ action: 'temporary_password' });
      return { user: { id: user.id }, temporary_password: password, expires_at: until.toISOString() };
    },
  };
}

export type UserRecoveryService = ReturnType<typeof createUserRecoveryService>;
