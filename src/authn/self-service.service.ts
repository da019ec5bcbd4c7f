import type { AuditService } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { IdpError, notFound } from '../lib/errors.js';
import { z } from '../lib/zod.js';
import { decide } from '../policy/engine.js';
import type { SettingsService } from '../policy/settings.service.js';
import { MFA_METHODS, type AuthEvent, type MfaMethod } from '../policy/types.js';
import type { User } from '../store/database.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';
import { FactorError, type EnrolmentStart, type Issued } from './factor.js';
import type { FactorRegistry } from './factors/registry.js';
import type { FactorOutcomes } from './factor-outcomes.js';

export interface FactorManagementDeps {
  credentials: CredentialRepository;
  factors: FactorRegistry;
  outcomes: FactorOutcomes;
  settings: Pick<SettingsService, 'effective' | 'resolve'>;
  ephemeral: EphemeralStore;
  audit: AuditService;
  clock: Clock;
  config: Pick<Config, 'mfa'>;
}

/** Who changes a user's factors, through which door, from where (for the audit trail). */
export interface ChangeContext {
  actor: string;
  via: 'self_service' | 'platform_api';
  ip?: string;
  requestId?: string;
  /** The session making the change survives it; every other session of the user ends. */
  keepSessionUid?: string;
}

/**
 * What the signed-in session has proven: its sign-in time (epoch ms), and the events of that sign-in
 * and of any later proof in the session, each with its method and time.
 */
export interface Freshness {
  signedInAt: number;
  events: readonly AuthEvent[];
}

/** An enrolment is confirmed through the session (or API door) that started it. */
const bindingOf = (ctx: ChangeContext) => `${ctx.via}:${ctx.keepSessionUid ?? ctx.actor}`;

const mfaLocked = () => new IdpError('mfa_locked', 'second factor temporarily locked after repeated failures');
const proofKey = (sessionUid: string) => `mfa-proof:${sessionUid}`;
const challengeKey = (sessionUid: string, method: MfaMethod) => `mfa-verify-challenge:${sessionUid}:${method}`;
/** The method whose challenge this session started last: a code of its form answers it (a code sent by SMS looks like a TOTP code). */
const startedKey = (sessionUid: string) => `mfa-verify-started:${sessionUid}`;
/** A code sent for a session's step-up is bound to that session. */
const sessionBinding = (sessionUid: string) => `session:${sessionUid}`;

/** The stored proof is read back through a schema: a value of another shape proves nothing. */
const proofSchema = z.object({
  factor: z.enum(MFA_METHODS),
  at: z.number(),
  credentialId: z.string().optional(),
  secondFactor: z.boolean(),
  phishingResistant: z.boolean(),
  aal: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional(),
  amr: z.array(z.string()).optional(),
  multiFactor: z.boolean().optional(),
});

/**
 * A user's factors outside a login, for every registered method alike: enrolment, one-step set-up,
 * removal, and code checks for the platform API and the self-service step-up. Every change voids
 * the user's trusted devices and is audited; every wrong code counts toward the account's
 * second-factor lockout.
 */
export function createFactorManagementService(deps: FactorManagementDeps) {
  /** The settings that apply to this user: their organisation's, with the layers of the roles they hold. */
  const policyFor = async (user: User) => (await deps.settings.resolve({ orgId: user.organizationId, roles: user.roles })).settings;
  const { credentials, factors, clock } = deps;
  const windowSec = deps.config.mfa.recentAuthSeconds;

  const audit = (type: string, outcome: 'success' | 'failure', user: User, ctx: ChangeContext, data: Record<string, unknown>) =>
    deps.audit.record({
      type,
      outcome,
      actor: ctx.actor,
      subject: user.id,
      organizationId: user.organizationId,
      ip: ctx.ip,
      requestId: ctx.requestId,
      data: { via: ctx.via, ...data },
    });

  const changed = (user: User, ctx: ChangeContext, type: string, data: Record<string, unknown>) => deps.outcomes.changed(user, ctx, type, data);

  /** A one-step set-up is a factor change like any other. */
  async function setUp(user: User, ctx: ChangeContext, run: () => Promise<Issued>): Promise<Record<string, unknown>> {
    const issued = await run();
    await changed(user, ctx, issued.audit.type, issued.audit.data);
    return issued.shown;
  }

  const methodsOf = (counts: Record<string, number>): MfaMethod[] => factors.enrolledIn(counts);

  /** A part of a method's plug-in; a method without it has no such operation. */
  function part<T>(value: T | undefined, method: MfaMethod): T {
    if (value === undefined) throw notFound(`${method} has no such operation`);
    return value;
  }

  /**
   * Refused (409) when the account's credentials of `method` go and the policy requires MFA that no
   * other factor would satisfy. Recovery methods are never the one factor left: the engine is asked
   * what the next sign-in would demand with only the other methods. The grace period is for a first
   * enrolment, not for giving the last factor up, hence an account created long ago.
   */
  async function assertNotLast(user: User, method: MfaMethod, counts: Record<string, number>): Promise<void> {
    if (!factors.activeOf(counts, method) || factors.get(method)?.descriptor.recovery) return;
    const { mfa } = await policyFor(user);
    // What the credentials' kind gives goes with them (a phone: SMS and voice).
    const left = methodsOf({ ...counts, [factors.kindOf(method)]: 0 }).filter((m) => !factors.get(m)?.descriptor.recovery);
    const next = decide({
      methods: factors.descriptors,
      mfa,
      account: { roles: user.roles, createdAt: new Date(0) },
      enrolled: left,
      events: [],
      trustedDevice: false,
      now: clock.now(),
    });
    if (next.outcome === 'enroll' || next.outcome === 'deny') {
      throw new IdpError('factor_required', 'the sign-in policy requires MFA: enrol another factor before removing the last one');
    }
  }

  return {
    /** Which methods the account has, and each method's own entry under its summary key. */
    async summary(userId: string): Promise<Record<string, unknown>> {
      const counts = await credentials.countActiveByKind(userId);
      const entries = await Promise.all(
        factors.factors.flatMap(({ descriptor: { method }, selfService: s }) =>
          s ? [s.status(userId, factors.activeOf(counts, method)).then((status) => [s.summaryKey, status] as const)] : [],
        ),
      );
      return { methods: methodsOf(counts), ...Object.fromEntries(entries) };
    },

    /** One method's entry of the summary. */
    async status(userId: string, method: MfaMethod): Promise<Record<string, unknown>> {
      return part(factors.get(method)?.selfService, method).status(userId, factors.activeOf(await credentials.countActiveByKind(userId), method));
    },

    /**
     * ASVS 5 7.5.1: a first factor needs a recent sign-in; once one exists, adding, changing or
     * removing factors needs a recent second factor, so a stolen or left-open session cannot swap them.
     */
    async assertFresh(user: User, f: Freshness): Promise<void> {
      const now = clock.now();
      const recent = (at: number) => now - at <= windowSec * 1000;
      // Only a factor that can reach AAL2 can prove it: an account with e-mail codes alone proves freshness by a recent sign-in.
      const enrolled = (await factors.enrolledMethods(user.id)).filter((m) => (factors.get(m)?.descriptor.aal ?? 1) >= 2);
      const hasFactor = enrolled.length > 0;
      if (hasFactor) {
        // Changing factors is a step-up to AAL2 with a short max age, decided like every other one.
        const { mfa } = await policyFor(user);
        const decision = decide({
          methods: factors.descriptors,
          mfa,
          account: user,
          enrolled,
          events: f.events,
          requestedAal: 2,
          trustedDevice: false,
          now,
          secondFactorMaxAgeMs: windowSec * 1000,
        });
        if (decision.outcome === 'satisfied') return;
      } else if (recent(f.signedInAt) || f.events.some((e) => e.secondFactor && recent(e.at))) return;
      throw new IdpError(
        'step_up_required',
        hasFactor
          ? `changing factors needs a second factor verified in the last ${windowSec} seconds: verify one (POST /api/v1/mfa/verify) or sign in again with MFA`
          : `enrolling a first factor needs a sign-in in the last ${windowSec} seconds: sign in again`,
      );
    },

    /**
     * The session proved a second factor outside a login (self-service step-up, first enrolment):
     * the event the factor returned is kept as it is, so later decisions see which method it was.
     * The latest proof replaces an earlier one, which can only be older.
     */
    recordMfaProof: (sessionUid: string, event: AuthEvent) => deps.ephemeral.set(proofKey(sessionUid), JSON.stringify(event), windowSec),
    async stepUp(user: User, sessionUid: string, event: AuthEvent, ctx: ChangeContext): Promise<void> {
      await this.recordMfaProof(sessionUid, event);
      await audit('authn.step_up.completed', 'success', user, ctx, { for: 'factor_management', method: event.factor, valid_seconds: windowSec });
    },
    /** The second factor this session proved outside a login, if one is still recorded. */
    async mfaProofs(sessionUid: string): Promise<AuthEvent[]> {
      const raw = await deps.ephemeral.get(proofKey(sessionUid));
      if (!raw) return [];
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return [];
      }
      const proof = proofSchema.safeParse(value);
      return proof.success ? [proof.data] : [];
    },

    async assertMethodAllowed(user: User, method: MfaMethod): Promise<void> {
      const { mfa } = await policyFor(user);
      if (!mfa.allowed_methods.includes(method)) throw new IdpError('method_not_allowed', `${method} is not allowed by the sign-in policy`);
    },

    /** A pending enrolment of the method, until its first valid code confirms it. */
    async beginEnrolment(user: User, method: MfaMethod, label: string, issuer: string, ctx: ChangeContext): Promise<EnrolmentStart> {
      const start = await part(factors.get(method)?.enrolment, method).begin(user.id, label, issuer, undefined, bindingOf(ctx));
      await audit('authn.enrollment.started', 'success', user, ctx, { method });
      return start;
    },

    async confirmEnrolment(user: User, method: MfaMethod, code: unknown, ctx: ChangeContext): Promise<AuthEvent> {
      const enrolment = part(factors.get(method)?.enrolment, method);
      let event: AuthEvent;
      try {
        event = await enrolment.confirm(user.id, code, bindingOf(ctx));
      } catch (err) {
        if (err instanceof FactorError) await audit('authn.enrollment.failed', 'failure', user, ctx, { method });
        throw err;
      }
      await changed(user, ctx, 'authn.factor.enrolled', { method, credential: event.credentialId });
      return event;
    },

    /** Sets a method up in one step: what it shows is shown once, and what the account had of it stops working. */
    async issue(user: User, method: MfaMethod, ctx: ChangeContext): Promise<Record<string, unknown>> {
      const selfService = part(factors.get(method)?.selfService, method);
      if (!selfService.issue) throw notFound(`${method} has no such operation`);
      return setUp(user, ctx, () => selfService.issue!(user.id));
    },

    /** Sets a method up from what the user chose (`input`, validated by the method), replacing what the account had of it. */
    async set(user: User, method: MfaMethod, input: unknown, ctx: ChangeContext): Promise<Record<string, unknown>> {
      const selfService = part(factors.get(method)?.selfService, method);
      if (!selfService.set) throw notFound(`${method} has no such operation`);
      return setUp(user, ctx, () => selfService.set!(user.id, input));
    },

    /** One credential's view, for a method that holds several. */
    async credential(user: User, method: MfaMethod, id: string): Promise<Record<string, unknown> | undefined> {
      const list = await part(factors.get(method)?.selfService?.credentials, method).list(user.id);
      return list.find((c) => c.id === id);
    },

    /** The account's credentials of a method that holds several. */
    listCredentials: (user: User, method: MfaMethod) => part(factors.get(method)?.selfService?.credentials, method).list(user.id),

    async renameCredential(user: User, method: MfaMethod, id: string, name: string, ctx: ChangeContext): Promise<Record<string, unknown>> {
      const renamed = await part(factors.get(method)?.selfService?.credentials, method).rename(user.id, id, name);
      if (!renamed) throw notFound(`no such ${method}`);
      await audit('authn.credential.renamed', 'success', user, ctx, { method, credential: id });
      return renamed;
    },

    /**
     * One credential of a method that holds several. The user's own last one is refused like the
     * method's removal; an administrator may remove it (a lost or compromised key), and the policy
     * then asks the user to enrol again at the next sign-in.
     */
    async removeCredential(user: User, method: MfaMethod, id: string, ctx: ChangeContext): Promise<void> {
      const managed = part(factors.get(method)?.selfService?.credentials, method);
      if (ctx.via === 'self_service') {
        const counts = await credentials.countActiveByKind(user.id);
        if (factors.activeOf(counts, method) <= 1) await assertNotLast(user, method, counts);
      }
      if (!(await managed.remove(user.id, id))) throw notFound(`no such ${method}`);
      await changed(user, ctx, 'authn.factor.removed', { method, credential: id });
    },

    /**
     * Removes a method's credentials, pending enrolment included. Refused (409) when the policy
     * requires MFA and no other factor that satisfies it would remain.
     */
    async removeFactor(user: User, method: MfaMethod, ctx: ChangeContext): Promise<void> {
      const factor = factors.get(method);
      if (!factor?.remove) throw notFound(`${method} cannot be removed`);
      await assertNotLast(user, method, await credentials.countActiveByKind(user.id));
      if (!(await factor.remove(user.id))) throw notFound(`no ${method} is registered`);
      await changed(user, ctx, 'authn.factor.removed', { method });
    },

    /**
     * A challenge for a step-up in this session with a method that issues one (WebAuthn request
     * options); `verifyCode` answers it. A new one replaces the earlier.
     */
    async startVerification(user: User, sessionUid: string, method: MfaMethod, input?: unknown): Promise<Record<string, unknown>> {
      const step = part(factors.get(method)?.challenge, method);
      const { shown, state } = await step.start({ accountId: user.id, now: clock.now(), binding: sessionBinding(sessionUid) }, input);
      await deps.ephemeral.set(challengeKey(sessionUid, method), JSON.stringify(state), windowSec);
      await deps.ephemeral.set(startedKey(sessionUid), method, windowSec);
      return shown;
    },

    /**
     * Refused (409) when removing one of the user's `kind` credentials would leave the policy's MFA
     * unsatisfied, as for a method's removal.
     */
    async assertRemovable(user: User, kind: string): Promise<void> {
      const counts = await credentials.countActiveByKind(user.id);
      if ((counts[kind] ?? 0) > 1) return;
      const method = factors.descriptors.find((d) => (d.credentialKind ?? d.method) === kind)?.method;
      if (method) await assertNotLast(user, method, counts);
    },

    /**
     * Checks a code with the method whose form it has (and, when asked, confirms a pending enrolment
     * with its first valid code). Refused while the second factor is locked; each failure counts toward that lock.
     */
    async verifyCode(
      user: User,
      code: unknown,
      ctx: ChangeContext,
      opts: { confirmPending: boolean },
    ): Promise<{ method: MfaMethod; enrolled: boolean; event: AuthEvent }> {
      if (user.status !== 'active') throw new IdpError(user.status === 'locked' ? 'account_locked' : 'account_disabled', `this account is ${user.status}`);
      const reserved = await deps.outcomes.reserve(user);
      if (!reserved) throw mfaLocked();
      const session = ctx.keepSessionUid;
      const started = session ? factors.get((await deps.ephemeral.get(startedKey(session))) as MfaMethod) : undefined;
      const factor = started?.recognizes(code) ? started : factors.forResponse(code);
      const method = factor.descriptor.method;
      // A challenge this session started: taken once whatever the answer, unless its method limits the tries itself.
      const once = (factor.challenge?.answered ?? 'once') === 'once';
      const key = session && challengeKey(session, method);
      const challenge = factor.challenge && key ? await (once ? deps.ephemeral.take(key) : deps.ephemeral.get(key)) : undefined;
      let enrolled = false;
      let event: AuthEvent;
      try {
        try {
          event = await factor.verify(
            {
              accountId: user.id,
              now: clock.now(),
              challenge: challenge ? (JSON.parse(challenge) as unknown) : undefined,
              ...(session ? { binding: sessionBinding(session) } : {}),
            },
            code,
          );
          if (key && !once) await Promise.all([deps.ephemeral.del(key), deps.ephemeral.del(startedKey(session))]);
        } catch (err) {
          if (!(err instanceof FactorError) || !opts.confirmPending || !factor.enrolment) throw err;
          event = await factor.enrolment.confirm(user.id, code);
          enrolled = true;
        }
      } catch (err) {
        if (err instanceof FactorError) await deps.outcomes.failed(user, method, ctx, reserved);
        throw err;
      }
      const counted = await deps.outcomes.verified(user, method, ctx, reserved);
      // A pending enrolment its first valid code confirmed is a factor change, even if the code then finds the factor locked.
      if (enrolled) await changed(user, ctx, 'authn.factor.enrolled', { method });
      if (!counted) throw mfaLocked();
      return { method, enrolled, event };
    },
  };
}

export type FactorManagementService = ReturnType<typeof createFactorManagementService>;
