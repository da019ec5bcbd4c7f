import type { AuditService } from '../audit/audit.service.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { Clock } from '../lib/clock.js';
import { unauthorized } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { User } from '../store/database.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import { verifyPassword } from './password.js';

export interface LoginAttempt { username: string; password: string; ip: string; requestId?: string }

export interface LoginServiceDeps {
  accounts: AccountRepository;
  audit: AuditService;
  metrics: Metrics;
  settings: Pick<SettingsService, 'effective'>;
  clock: Clock;
}

/**
 * Password step. Unknown user, wrong password, locked and disabled accounts all get the same
 * error after the same argon2 work, so the answer reveals nothing (ASVS 5 6.3.8).
 */
export function createLoginService(deps: LoginServiceDeps) {
  const { accounts, audit, metrics, settings, clock } = deps;
  return {
    async passwordLogin(attempt: LoginAttempt): Promise<User> {
      const user = await accounts.findByLogin(attempt.username);
      const passwordOk = await verifyPassword(user?.passwordHash, attempt.password);
      const blocked = user !== undefined && (user.status !== 'active' || (user.lockedUntil !== null && user.lockedUntil.getTime() > clock.now()));
      if (!user || !passwordOk || blocked) {
        const reason = !user ? 'unknown_user' : blocked ? `account_${user.status === 'active' ? 'locked' : user.status}` : 'wrong_password';
        if (user && !passwordOk && !blocked) {
          const { lockout } = await settings.effective(user.organizationId);
          const count = await accounts.recordPasswordFailure(user.id, lockout.max_failures, lockout.lock_minutes, clock.now());
          if (count === lockout.max_failures) {
            await audit.record({ type: 'authn.account.locked', outcome: 'success', subject: user.id, ip: attempt.ip, requestId: attempt.requestId, data: { failures: count } });
          }
        }
        metrics.logins.inc({ outcome: 'failure' });
        await audit.record({
          type: 'authn.login.failed', outcome: 'failure', subject: user?.id ?? null, organizationId: user?.organizationId,
          ip: attempt.ip, requestId: attempt.requestId, data: { reason, factor: 'password' },
        });
        throw unauthorized('invalid_credentials', 'invalid username or password');
      }
      await accounts.recordLogin(user.id);
      return user;
    },
  };
}

export type LoginService = ReturnType<typeof createLoginService>;
