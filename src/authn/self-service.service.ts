import type { AuditService } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { IdpError, forbidden, notFound, tooManyRequests } from '../lib/errors.js';
import { decide, policyMethods } from '../policy/engine.js';
import type { MfaSettings } from '../policy/settings.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { AuthEvent, FactorDescriptor, MfaMethod } from '../policy/types.js';
import type { User } from '../store/database.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';
import { FactorError } from './factor.js';
import type { FactorRegistry } from './factors/registry.js';
import type { TotpEnrollment } from './factors/totp/totp.factor.js';
import type { FactorOutcomes } from './factor-outcomes.js';

export interface FactorManagementDeps {
  credentials: CredentialRepository;
  factors: FactorRegistry;
  outcomes: FactorOutcomes;
  settings: Pick<SettingsService, 'effective'>;
  ephemeral: EphemeralStore;
  audit: AuditService;
  clock: Clock;
  config: Pick<Config, 'mfa'>;
}

/** Who changes a user's factors, through which door, from where (for the audit trail). */
export interface ChangeContext {
  actor: string; via: 'self_service' | 'platform_api'; ip?: string; requestId?: string;
  /** The session making the change survives it; every other session of the user ends. */
  keepSessionUid?: string;
}

/** When the signed-in user last proved a sign-in and a second factor (epoch ms). */
export interface Freshness { signedInAt: number; mfaAt?: number }

const mfaLocked = () => tooManyRequests('second factor temporarily locked after repeated failures', 'mfa_locked');
const proofKey = (sessionUid: string) => `mfa-proof:${sessionUid}`;

/** Does the policy make MFA mandatory for this user (so that the last factor must stay)? Asked of the engine as for a user with none. */
export function policyRequiresMfa(methods: readonly FactorDescriptor[], mfa: MfaSettings, roles: readonly string[]): boolean {
  return decide({ methods, mfa, account: { roles, createdAt: new Date(0) }, enrolled: [], events: [], trustedDevice: false, now: Date.now() }).outcome !== 'satisfied';
}

/** Methods that satisfy the policy on their own; recovery methods are never the one factor left. */
const primaryMethods = (mfa: MfaSettings, descriptors: readonly FactorDescriptor[]): MfaMethod[] =>
  policyMethods(mfa, descriptors).filter((m) => descriptors.some((d) => d.method === m && !d.recovery));

/**
 * A user's factors outside a login: enrolment, removal, backup codes, and code checks for the
 * platform API and the self-service step-up. Every change voids the user's trusted devices
 * and is audited; every wrong code counts toward the account's second-factor lockout.
 */
export function createFactorManagementService(deps: FactorManagementDeps) {
  const { credentials, factors, clock } = deps;
  const windowSec = deps.config.mfa.recentAuthSeconds;

  const audit = (type: string, outcome: 'success' | 'failure', user: User, ctx: ChangeContext, data: Record<string, unknown>) =>
    deps.audit.record({ type, outcome, actor: ctx.actor, subject: user.id, organizationId: user.organizationId, ip: ctx.ip, requestId: ctx.requestId, data: { via: ctx.via, ...data } });

  const changed = (user: User, ctx: ChangeContext, type: string, data: Record<string, unknown>) => deps.outcomes.changed(user, ctx, type, data);

  function codeError(err: unknown): never {
    throw err instanceof FactorError ? err.toHttp() : err;
  }

  const methodsOf = (counts: Record<string, number>): MfaMethod[] => factors.methods.filter((m) => (counts[m] ?? 0) > 0);

  return {
    async summary(userId: string) {
      const [counts, pending] = await Promise.all([credentials.countActiveByKind(userId), credentials.findPending(userId, 'totp')]);
      return { methods: methodsOf(counts), totp: (counts.totp ?? 0) > 0, totpPending: pending !== undefined, backupCodes: counts.backup_code ?? 0 };
    },

    /**
     * ASVS 5 7.5.1: a first factor needs a recent sign-in; once one exists, adding, changing or
     * removing factors needs a recent second factor, so a stolen or left-open session cannot swap them.
     */
    async assertFresh(user: User, f: Freshness): Promise<void> {
      const now = clock.now();
      const recent = (at: number | undefined) => at !== undefined && now - at <= windowSec * 1000;
      const enrolled = await factors.enrolledMethods(user.id);
      const hasFactor = enrolled.length > 0;
      if (hasFactor) {
        // Changing factors is a step-up to AAL2 with a short max age, decided like every other one.
        const { mfa } = await deps.settings.effective(user.organizationId);
        const events: AuthEvent[] = [
          { factor: 'password', at: f.signedInAt, secondFactor: false, phishingResistant: false },
          ...(f.mfaAt !== undefined ? [{ factor: 'totp' as const, at: f.mfaAt, secondFactor: true, phishingResistant: false }] : []),
        ];
        const decision = decide({ methods: factors.descriptors, mfa, account: user, enrolled, events, requestedAal: 2, trustedDevice: false, now, secondFactorMaxAgeMs: windowSec * 1000 });
        if (decision.outcome === 'satisfied') return;
      } else if (recent(f.signedInAt) || recent(f.mfaAt)) return;
      throw new IdpError(403, 'step_up_required', hasFactor
        ? `changing factors needs a second factor verified in the last ${windowSec} seconds: verify one (POST /api/v1/mfa/verify) or sign in again with MFA`
        : `enrolling a first factor needs a sign-in in the last ${windowSec} seconds: sign in again`);
    },

    /** The session proved a second factor outside a login (self-service step-up, first enrolment). */
    recordMfaProof: (sessionUid: string) => deps.ephemeral.set(proofKey(sessionUid), String(clock.now()), windowSec),
    async stepUp(user: User, sessionUid: string, ctx: ChangeContext): Promise<void> {
      await this.recordMfaProof(sessionUid);
      await audit('authn.step_up.completed', 'success', user, ctx, { for: 'factor_management', valid_seconds: windowSec });
    },
    async mfaProofAt(sessionUid: string): Promise<number | undefined> {
      const raw = await deps.ephemeral.get(proofKey(sessionUid));
      return raw ? Number(raw) : undefined;
    },

    async assertMethodAllowed(user: User, method: MfaMethod): Promise<void> {
      const { mfa } = await deps.settings.effective(user.organizationId);
      if (!mfa.allowed_methods.includes(method)) throw forbidden(`${method} is not allowed by the sign-in policy`, 'method_not_allowed');
    },

    async beginTotp(user: User, label: string, issuer: string, ctx: ChangeContext): Promise<TotpEnrollment> {
      const enrollment = await factors.totp.begin(user.id, label, issuer);
      await audit('authn.enrollment.started', 'success', user, ctx, { method: 'totp' });
      return enrollment;
    },

    async confirmTotp(user: User, code: unknown, ctx: ChangeContext): Promise<AuthEvent> {
      let event: AuthEvent;
      try {
        event = await factors.totp.confirm(user.id, code);
      } catch (err) {
        if (err instanceof FactorError) await audit('authn.enrollment.failed', 'failure', user, ctx, { method: 'totp' });
        return codeError(err);
      }
      await changed(user, ctx, 'authn.factor.enrolled', { method: 'totp' });
      return event;
    },

    /**
     * Removes a method's credentials, pending enrolment included. Refused (409) when the policy
     * requires MFA and no other factor that satisfies it would remain.
     */
    async removeFactor(user: User, method: MfaMethod, ctx: ChangeContext): Promise<void> {
      const factor = factors.get(method);
      if (!factor?.remove) throw notFound(`${method} cannot be removed`);
      const counts = await credentials.countActiveByKind(user.id);
      if (counts[method]) {
        const { mfa } = await deps.settings.effective(user.organizationId);
        const primary = primaryMethods(mfa, factors.descriptors);
        const others = methodsOf({ ...counts, [method]: 0 }).filter((m) => primary.includes(m));
        if (!factor.descriptor.recovery && policyRequiresMfa(factors.descriptors, mfa, user.roles) && others.length === 0) {
          throw new IdpError(409, 'factor_required', 'the sign-in policy requires MFA: enrol another factor before removing the last one');
        }
      }
      if (!(await factor.remove(user.id))) throw notFound(`no ${method} is registered`);
      await changed(user, ctx, 'authn.factor.removed', { method });
    },

    /** A new set of 10, shown once; the previous set stops working. */
    async regenerateBackupCodes(user: User, ctx: ChangeContext): Promise<string[]> {
      const codes = await factors.backupCodes.generate(user.id);
      await changed(user, ctx, 'authn.backup_codes.regenerated', { count: codes.length });
      return codes;
    },

    remainingBackupCodes: (userId: string) => factors.backupCodes.remaining(userId),

    /**
     * Checks a TOTP code (and, when asked, confirms a pending enrolment with its first valid code)
     * or a backup code. Refused while the second factor is locked; each failure counts toward that lock.
     */
    async verifyCode(user: User, code: unknown, ctx: ChangeContext, opts: { confirmPending: boolean }): Promise<{ method: MfaMethod; enrolled: boolean }> {
      if (user.status !== 'active') throw forbidden(`this account is ${user.status}`, `account_${user.status}`);
      const reserved = await deps.outcomes.reserve(user);
      if (!reserved) throw mfaLocked();
      const factor = factors.forResponse(code);
      const method = factor.descriptor.method;
      let enrolled = false;
      try {
        try {
          await factor.verify({ accountId: user.id, now: clock.now() }, code);
        } catch (err) {
          if (!(err instanceof FactorError) || !opts.confirmPending || !factor.enrolment) throw err;
          await factor.enrolment.confirm(user.id, code);
          enrolled = true;
        }
      } catch (err) {
        if (err instanceof FactorError) await deps.outcomes.failed(user, method, ctx, reserved);
        return codeError(err);
      }
      const counted = await deps.outcomes.verified(user, method, ctx, reserved);
      // A pending enrolment its first valid code confirmed is a factor change, even if the code then finds the factor locked.
      if (enrolled) await changed(user, ctx, 'authn.factor.enrolled', { method });
      if (!counted) throw mfaLocked();
      return { method, enrolled };
    },
  };
}

export type FactorManagementService = ReturnType<typeof createFactorManagementService>;
