import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import type { Metrics } from '../lib/metrics.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { MfaMethod } from '../policy/types.js';
import type { User } from '../store/database.js';
import type { CredentialRepository, MfaAttempt } from '../store/repositories/credential.repository.js';
import type { TrustedDeviceService } from './trusted-device.service.js';

/**
 * Ends a user's SSO sessions with everything issued through them; the OIDC layer implements it,
 * as only it knows the provider's sessions, grants and relying parties.
 */
export interface SessionTerminator {
  /** Ends every session of the account but `keepSessionUid`; returns how many ended. */
  endOtherSessions(accountId: string, keepSessionUid?: string): Promise<number>;
}

/** Who acted, through which door, from where: what the audit trail records. */
export interface Actor {
  actor?: string;
  via?: string;
  ip?: string;
  requestId?: string;
}

export interface FactorOutcomeDeps {
  credentials: Pick<CredentialRepository, 'reserveMfaAttempt' | 'reserveMfaAttemptSigningIn' | 'resetMfaFailures'>;
  devices: Pick<TrustedDeviceService, 'revokeAll'>;
  sessions: SessionTerminator;
  settings: Pick<SettingsService, 'effective'>;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
}

/**
 * What follows a second-factor check or a factor change, the same whichever door it came
 * through (login, self-service, platform API): counters, lockout, metrics, audit, and the
 * sessions and trusted devices a change must end.
 */
export function createFactorOutcomes(deps: FactorOutcomeDeps) {
  const { credentials, audit, metrics, clock } = deps;
  const record = (type: string, outcome: 'success' | 'failure', user: User, who: Actor, data: Record<string, unknown>) =>
    audit.record({
      type,
      outcome,
      actor: who.actor ?? null,
      subject: user.id,
      organizationId: user.organizationId,
      ip: who.ip,
      requestId: who.requestId,
      data: who.via ? { via: who.via, ...data } : data,
    });

  return {
    /**
     * Before a code is evaluated: reserves the check against the account's second-factor lockout
     * (undefined while it is locked: nothing may be evaluated). Every door reserves first, so
     * codes sent at once through several challenges or doors share one budget.
     */
    async reserve(user: User): Promise<MfaAttempt | undefined> {
      const { lockout } = await deps.settings.effective(user.organizationId);
      return credentials.reserveMfaAttempt(user.id, lockout.mfa_max_failures, lockout.lock_minutes, clock.now());
    },

    /** The same inside a login, reading the (active) account with it: undefined while locked or when the account is no longer active. */
    async reserveSigningIn(accountId: string, organizationId: string) {
      const { lockout } = await deps.settings.effective(organizationId);
      return credentials.reserveMfaAttemptSigningIn(accountId, lockout.mfa_max_failures, lockout.lock_minutes, clock.now());
    },

    /** A wrong code: its reservation stays counted. True when it was the one that locked the factor. */
    async failed(user: User, method: MfaMethod, who: Actor, attempt: MfaAttempt): Promise<boolean> {
      metrics.mfaChallenges.inc({ method, outcome: 'failed' });
      await record('authn.mfa.failed', 'failure', user, who, { method });
      if (attempt.lockedUntil) await record('authn.mfa.locked', 'success', user, who, { until: attempt.lockedUntil.toISOString() });
      return attempt.lockedUntil !== null;
    },

    /**
     * A right code: the failure counter starts again. False when a concurrent failure locked the
     * factor while this code was evaluated: then the code does not count.
     */
    async verified(user: User, method: MfaMethod, who: Actor, attempt: MfaAttempt): Promise<boolean> {
      if (!(await credentials.resetMfaFailures(user.id, attempt, clock.now()))) {
        metrics.mfaChallenges.inc({ method, outcome: 'failed' });
        await record('authn.mfa.failed', 'failure', user, who, { method, reason: 'mfa_locked' });
        return false;
      }
      metrics.mfaChallenges.inc({ method, outcome: 'verified' });
      await record('authn.mfa.verified', 'success', user, who, { method });
      return true;
    },

    /**
     * ASVS 5 7.4.3: after a factor change, every trusted device and the user's other sessions end,
     * tokens and relying-party sessions included.
     */
    async changed(user: User, who: Actor & { keepSessionUid?: string }, type: string, data: Record<string, unknown>): Promise<void> {
      await record(type, 'success', user, who, data);
      await deps.devices.revokeAll(user.id, who.actor ?? user.id, type);
      const ended = await deps.sessions.endOtherSessions(user.id, who.keepSessionUid);
      if (ended) await record('authn.sessions.ended', 'success', user, who, { count: ended, reason: type });
    },
  };
}

export type FactorOutcomes = ReturnType<typeof createFactorOutcomes>;
