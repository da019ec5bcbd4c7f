import type { Clock } from '../lib/clock.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';
import { mfaMethodsOf, type ProfileExtension } from './user.service.js';

/**
 * The profile's MFA fields. `is_locked` covers both locks (password and second factor), and
 * `failed_attempts` counts both kinds of consecutive failures, with the split alongside.
 */
export function createMfaProfileExtension(deps: {
  credentials: Pick<CredentialRepository, 'countActiveByKind'>;
  clock: Clock;
  /** The methods the credential kinds give (a phone gives SMS and voice); by default, the kinds. */
  methodsOf?: (counts: Readonly<Record<string, number>>) => string[];
}): ProfileExtension {
  return async (user) => {
    const counts = await deps.credentials.countActiveByKind(user.id);
    const now = deps.clock.now();
    const passwordLocked = user.status === 'locked' || (user.lockedUntil !== null && user.lockedUntil.getTime() > now);
    const mfaLockedUntil = user.mfaLockedUntil && user.mfaLockedUntil.getTime() > now ? user.mfaLockedUntil : null;
    return {
      mfa_methods: (deps.methodsOf ?? mfaMethodsOf)(counts),
      has_otp: (counts.totp ?? 0) > 0,
      has_passkeys: (counts.passkey ?? 0) > 0,
      backup_codes_remaining: counts.backup_code ?? 0,
      is_locked: passwordLocked || mfaLockedUntil !== null,
      failed_attempts: user.failedAttempts + user.mfaFailedAttempts,
      login_failed_attempts: user.failedAttempts,
      mfa_failed_attempts: user.mfaFailedAttempts,
      mfa_locked_until: mfaLockedUntil?.toISOString() ?? null,
    };
  };
}
