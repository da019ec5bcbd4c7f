import type { AuditService } from '../audit/audit.service.js';
import { IdpError, badRequest, conflict } from '../lib/errors.js';
import type { User } from '../store/database.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { FactorOutcomes } from './factor-outcomes.js';
import type { LoginService } from './login.service.js';
import { hashPassword, normalizePassword } from './password.js';
import type { ChangeContext } from './self-service.service.js';

export interface PasswordChangeServiceDeps {
  login: Pick<LoginService, 'confirmPassword'>;
  accounts: Pick<AccountRepository, 'changePassword'>;
  outcomes: Pick<FactorOutcomes, 'changed'>;
  audit: AuditService;
}

/**
 * A signed-in user changes their own password. The current one is checked as a sign-in checks it
 * (one lockout for both doors), the new one is stored as an argon2id hash in place of exactly the
 * hash just confirmed, and then, as after any factor change, the user's other sessions end with
 * their tokens and relying parties, and trusted devices are revoked; the session that changed it
 * carries on (OWASP ASVS 5 7.4.3).
 */
export function createPasswordChangeService(deps: PasswordChangeServiceDeps) {
  return {
    async change(user: User, input: { currentPassword: string; newPassword: string }, who: ChangeContext): Promise<void> {
      const hashBefore = user.passwordHash;
      const check = hashBefore
        ? await deps.login.confirmPassword(user, input.currentPassword, { ip: who.ip ?? 'unknown', requestId: who.requestId })
        : 'no_password';
      if (!hashBefore || check !== 'confirmed') {
        await deps.audit.record({
          type: 'user.password.change_failed',
          outcome: 'failure',
          actor: who.actor,
          subject: user.id,
          organizationId: user.organizationId,
          ip: who.ip,
          requestId: who.requestId,
          data: { via: who.via, reason: check },
        });
        throw new IdpError('invalid_credentials', 'the current password is not right');
      }
      // The current password was just proven, so an equal new one is the same password.
      if (normalizePassword(input.newPassword) === normalizePassword(input.currentPassword)) {
        throw badRequest('new_password: must differ from the current password');
      }
      if (!(await deps.accounts.changePassword(user.id, hashBefore, await hashPassword(input.newPassword)))) {
        throw conflict('the password was changed meanwhile');
      }
      await deps.outcomes.changed(user, who, 'user.password.changed', {});
    },
  };
}

export type PasswordChangeService = ReturnType<typeof createPasswordChangeService>;
