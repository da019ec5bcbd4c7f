import type { AuditService } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { IdpError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { decide } from '../policy/engine.js';
import { loginSignals } from '../policy/login-context.js';
import type { RulesService } from '../policy/rules.service.js';
import type { RiskContext } from '../risk/types.js';
import type { Logger } from '../lib/logger.js';
import type { LoginToRecord } from '../risk/risk-engine.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { Aal, AuthEvent, AuthnDecision, DecisionWhy, MfaMethod, RiskVerdict } from '../policy/types.js';
import type { AccountRepository, SigningInUser } from '../store/repositories/account.repository.js';
import type { AuthnStateRepository } from '../store/repositories/authn-state.repository.js';
import type { ClientRepository } from '../store/repositories/client.repository.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';
import { aalOf, acrOf, amrOf } from '../policy/assurance.js';
import { FactorError, eventOf, type Enrolment, type EnrolmentStart, type Factor } from './factor.js';
import type { FactorOutcomes } from './factor-outcomes.js';
import type { FactorRegistry } from './factors/registry.js';
import { issuerLabel } from './issuer-label.js';
import type { LoginOrigin, LoginResult } from './login-request.js';
import type { LoginTransaction, TransactionStore } from './transaction.store.js';
import type { TrustedDeviceService } from './trusted-device.service.js';

export interface MfaServiceDeps {
  accounts: AccountRepository;
  credentials: CredentialRepository;
  clients: Pick<ClientRepository, 'find'>;
  settings: SettingsService;
  rules: Pick<RulesService, 'verdict'>;
  /** The risk engine, for adaptive MFA (the organisation's `risk.adaptive`): each new sign-in is scored, and kept once it succeeds. */
  logger: Pick<Logger, 'warn'>;
  risk?: { assess(context: RiskContext): Promise<RiskVerdict>; record(login: LoginToRecord): Promise<void> };
  factors: FactorRegistry;
  transactions: TransactionStore;
  authnStates: AuthnStateRepository<AuthEvent>;
  devices: TrustedDeviceService;
  outcomes: FactorOutcomes;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
  config: Pick<Config, 'mfa' | 'ttl' | 'session'>;
  /** The assurance floor of a break-glass grant active for the user, if any: no trusted device, network or rule lowers it. */
  breakGlass?: { floorFor(userId: string): Promise<{ grantId: string; minAal: Aal } | undefined> };
}

export type Outcome =
  | { kind: 'finish'; login: LoginResult; device?: { token: string; maxAgeMs: number } }
  | { kind: 'mfa'; methods: MfaMethod[] }
  | { kind: 'enroll'; methods: MfaMethod[] }
  | { kind: 'reauth' }
  | { kind: 'trust_device' }
  /** The password was a temporary one: the user sets their own before the login goes on. */
  | { kind: 'password_change' }
  /** `unmet`: the relying party asked for more than this account can prove; it is told so (OpenID Connect Core §3.1.2.6). */
  | { kind: 'deny'; description: string; unmet?: boolean }
  /** A challenge answered elsewhere (a prompt on a device) is not answered yet: `shown` says how it stands; nothing was counted. */
  | { kind: 'pending'; shown: Record<string, unknown> }
  /** The account's first factor was just set up in this login: its backup codes are shown once, and saved, before the login goes on. */
  | { kind: 'backup_codes' };

export interface RequestMeta {
  ip: string;
  userAgent?: string;
  requestId?: string;
  deviceToken?: string;
}

/** The risk verdict a login already has (kept in its transaction), or the request to assess a new sign-in by. */
type RiskInput = { verdict: RiskVerdict } | { assess: RequestMeta };
/** A login's later steps are decided with the verdict its sign-in got, never a fresh (possibly different) one. */
const keptRisk = (tx: Pick<LoginTransaction, 'risk'>): RiskInput | undefined => (tx.risk ? { verdict: tx.risk } : undefined);

/** Where a login keeps the one-time right to show its new backup codes, taken when they are shown. */
const BACKUP_CODES_SHOWN = 'backup-codes';

/** An enrolment started in a login is confirmed in that login only. */
const bindingOf = (tx: LoginTransaction) => `login:${tx.uid}`;

export const passwordEvent = (at: number): AuthEvent => ({ factor: 'password', at, secondFactor: false, phishingResistant: false });

/** What a browser shows of a trusted device: its cookie, and for a session, the device it signed in with. */
interface DeviceProof {
  token?: string;
  id?: string | null;
}

/**
 * The MFA part of a login: what the policy asks after the password (or of an existing session),
 * verifying factors against the server-side transaction, enrolment, trusting the device, and
 * the final amr/acr. Nothing the browser sends can mark a step done (ZI CVE-2025-64103 class).
 */
export function createMfaService(deps: MfaServiceDeps) {
  const { transactions, audit, metrics, clock } = deps;

  async function context(user: SigningInUser, clientId: string) {
    const client = await deps.clients.find(clientId);
    const { settings, provenance } = await deps.settings.resolve({ orgId: user.organizationId, roles: user.roles, clientPolicy: client?.mfaPolicy });
    return { settings, provenance, client, enrolled: deps.factors.enrolledIn(user.activeCredentials) };
  }

  /** The trusted device the proof shows, judged by the trusted-device duration of the policy in force here. */
  async function trustedDevice(userId: string, days: number, proof: DeviceProof): Promise<string | undefined> {
    const device = await deps.devices.check(userId, proof.token, days);
    if (device) return device.id;
    return proof.id && (await deps.devices.isActive(userId, proof.id, days)) ? proof.id : undefined;
  }

  /**
   * The decision for this user now, with the settings layers of their organisation, roles and the
   * client, the first sign-in rule that does not abstain, and the network `ip` is in (an address
   * that is missing or unreadable is in none).
   */
  async function evaluate(
    user: SigningInUser,
    clientId: string,
    events: AuthEvent[],
    requestedAal: Aal | undefined,
    ip: string | undefined,
    device?: DeviceProof,
    risk?: RiskInput,
  ) {
    const [{ settings, provenance, client, enrolled }, breakGlass] = await Promise.all([context(user, clientId), deps.breakGlass?.floorFor(user.id)]);
    // Never for a step-up; elsewhere only as the effective policy of the client being signed into allows.
    const trustedDeviceId = requestedAal || !device ? undefined : await trustedDevice(user.id, settings.mfa.trusted_device_duration_days, device);
    const now = clock.now();
    const verdict =
      risk && 'verdict' in risk
        ? risk.verdict
        : risk && settings.risk.adaptive && deps.risk
          ? await deps.risk.assess({
              ip: risk.assess.ip,
              userAgent: risk.assess.userAgent,
              deviceToken: risk.assess.deviceToken,
              userId: user.id,
              organizationId: user.organizationId,
              at: now,
            })
          : undefined;
    const signals = loginSignals(
      {
        user,
        client: { id: clientId, firstParty: client?.firstParty ?? false },
        ip,
        deviceKnown: trustedDeviceId !== undefined,
        now,
        risk: verdict?.score ?? null,
      },
      settings.networks,
    );
    const decision = decide({
      methods: deps.factors.descriptors,
      mfa: settings.mfa,
      provenance,
      account: user,
      enrolled,
      events,
      requestedAal,
      trustedDevice: trustedDeviceId !== undefined,
      now,
      rule: await deps.rules.verdict(user.organizationId, signals.context),
      network: signals.network,
      blockUnknown: settings.networks.block_unknown,
      ...(breakGlass ? { breakGlass } : {}),
      ...(verdict ? { risk: { score: verdict.score, recommendation: verdict.recommendation } } : {}),
    });
    return { decision, settings, trustedDeviceId: trustedDeviceId ?? null, risk: verdict && { score: verdict.score, recommendation: verdict.recommendation } };
  }

  /** Adding a factor needs a password proven within the recent-auth window, in a login as in self-service. */
  const passwordIsRecent = (events: readonly AuthEvent[]) =>
    clock.now() - Math.max(...events.filter((e) => e.factor === 'password').map((e) => e.at)) <= deps.config.mfa.recentAuthSeconds * 1000;

  /** A locked (by an administrator) or disabled account goes no further in a login, whatever it already proved. */
  async function loadUser(accountId: string): Promise<SigningInUser> {
    const user = await deps.accounts.findSigningIn(accountId);
    if (!user || user.status !== 'active') throw new IdpError('invalid_request', 'the account is no longer available');
    return user;
  }

  /** Every finished login passes here, whatever steps it took (password only, MFA, enrolment, trusted device, step-up). */
  async function finish(
    tx: Pick<LoginTransaction, 'uid' | 'accountId' | 'organizationId' | 'events' | 'stepUp' | 'priorAal' | 'clientId' | 'risk' | 'rememberMe'>,
    meta: RequestMeta,
    trustedDeviceId: string | null = null,
    device?: { token: string; maxAgeMs: number },
    decision?: DecisionWhy,
  ): Promise<Outcome> {
    const ts = Math.floor(clock.now() / 1000);
    const aal = aalOf(tx.events);
    const stepUp = tx.stepUp && aal > tx.priorAal;
    const login = {
      accountId: tx.accountId,
      acr: acrOf(aal),
      amr: amrOf(tx.events, deps.factors.descriptors),
      ts,
      organizationId: tx.organizationId,
      rememberMe: tx.rememberMe === true,
    };
    await deps.authnStates.put(
      { accountId: tx.accountId, authTime: ts, amr: login.amr },
      { events: tx.events, stepUp, trustedDeviceId },
      deps.config.ttl.refreshTokenSeconds,
    );
    await transactions.clear(tx.uid);
    // A sign-in that was scored becomes part of the user's history (what a later sign-in is compared with).
    if (tx.risk && deps.risk) {
      await deps.risk
        .record({ userId: tx.accountId, ip: meta.ip, userAgent: meta.userAgent, deviceToken: meta.deviceToken, at: clock.now() })
        .catch((err: unknown) => deps.logger.warn({ err }, 'recording a sign-in for the risk history failed'));
    }
    const who = { subject: tx.accountId, organizationId: tx.organizationId, ip: meta.ip, requestId: meta.requestId, clientId: tx.clientId };
    if (stepUp) await audit.record({ type: 'authn.step_up.completed', outcome: 'success', ...who, data: { acr: login.acr, client_id: tx.clientId } });
    metrics.logins.inc({ outcome: 'success' });
    const why = decision ? { reasons: decision.reasons, sources: decision.sources ?? [] } : {};
    await audit.record({ type: 'authn.login.succeeded', outcome: 'success', ...who, data: { client_id: tx.clientId, amr: login.amr, acr: login.acr, ...why } });
    return { kind: 'finish', login, ...(device ? { device } : {}) };
  }

  /** The offered methods of which the account holds a credential that reaches the AAL asked (all, but for aal3). */
  async function reaching(accountId: string, decision: Extract<AuthnDecision, { outcome: 'challenge' }>): Promise<MfaMethod[]> {
    if (decision.requiredAal < 3) return decision.methods;
    const can = await Promise.all(decision.methods.map(async (m) => (await deps.factors.get(m)?.canReach?.(accountId, 3)) ?? true));
    return decision.methods.filter((_, i) => can[i]);
  }

  /** Turns a decision into the next step, saving the transaction when the login is not over. */
  async function next(
    tx: LoginTransaction,
    decision: AuthnDecision,
    meta: RequestMeta,
    offerTrust: boolean,
    trustedDeviceId: string | null = null,
  ): Promise<Outcome> {
    switch (decision.outcome) {
      case 'satisfied':
        if (offerTrust) {
          // The verdict is kept for the login's audit event, written once the device question is answered.
          await transactions.save({ ...tx, stage: 'trust_device', methods: [], decided: { reasons: decision.reasons, sources: decision.sources ?? [] } });
          return { kind: 'trust_device' };
        }
        return finish(tx, meta, trustedDeviceId, undefined, decision);
      case 'challenge': {
        const methods = await reaching(tx.accountId, decision);
        if (!methods.length) {
          const description = `acr aal${decision.requiredAal} needs a credential that reaches it, and this account has none`;
          return next(tx, { outcome: 'deny', reasons: [...decision.reasons, 'unsatisfiable'], description }, meta, false);
        }
        decision = { ...decision, methods };
        await transactions.save({ ...tx, stage: 'mfa', methods: decision.methods });
        metrics.mfaChallenges.inc({ method: decision.methods.join('|'), outcome: 'challenged' });
        await audit.record({
          type: 'authn.mfa.challenged',
          outcome: 'success',
          subject: tx.accountId,
          ip: meta.ip,
          requestId: meta.requestId,
          data: { methods: decision.methods, reasons: decision.reasons, sources: decision.sources ?? [] },
        });
        return { kind: 'mfa', methods: decision.methods };
      }
      case 'enroll':
        // ASVS 5 7.5.1: a session whose password is older than the recent-auth window gives it again first.
        if (!passwordIsRecent(tx.events)) {
          await transactions.save({ ...tx, stage: 'reauth', methods: decision.methods });
          return { kind: 'reauth' };
        }
        await transactions.save({ ...tx, stage: 'enroll', methods: decision.methods });
        return { kind: 'enroll', methods: decision.methods };
      case 'deny':
        await transactions.clear(tx.uid);
        await audit.record({
          type: 'authn.login.denied',
          outcome: 'failure',
          subject: tx.accountId,
          ip: meta.ip,
          requestId: meta.requestId,
          data: { reasons: decision.reasons, sources: decision.sources ?? [] },
        });
        return { kind: 'deny', description: decision.description, unmet: decision.reasons.includes('acr_requested') };
    }
  }

  /** A login's transaction once the user is known; a step-up starts from what the session already proved. */
  const started = (
    input: { uid: string; origin: LoginOrigin; clientId: string },
    user: SigningInUser,
    events: AuthEvent[],
    stepUp: boolean,
    risk?: RiskVerdict,
  ): LoginTransaction => ({
    uid: input.uid,
    origin: input.origin,
    accountId: user.id,
    organizationId: user.organizationId,
    stage: 'mfa',
    methods: [],
    events,
    stepUp,
    priorAal: stepUp ? aalOf(events) : 0,
    clientId: input.clientId,
    createdAt: clock.now(),
    ...(risk ? { risk } : {}),
  });

  /** The enrolment of a method this login's enrolment step offers. */
  function enrolmentOffered(tx: LoginTransaction, method: MfaMethod): Enrolment {
    const enrolment = tx.methods.includes(method) ? deps.factors.get(method)?.enrolment : undefined;
    if (!enrolment) throw new IdpError('invalid_method', `${method} cannot be enrolled here`);
    return enrolment;
  }

  /** The factor of a method this login's challenge offers. */
  function offered(tx: LoginTransaction, method: MfaMethod): Factor {
    const factor = tx.methods.includes(method) ? deps.factors.get(method) : undefined;
    if (!factor) throw new IdpError('invalid_method', `${method} is not offered in this challenge`);
    return factor;
  }

  async function requireTx(uid: string, stage: LoginTransaction['stage']): Promise<LoginTransaction> {
    const tx = await transactions.get(uid);
    if (!tx || tx.stage !== stage) throw new IdpError('invalid_step', `this interaction is not at the ${stage} step`);
    return tx;
  }

  /**
   * A temporary password (account recovery) signs in only into a change of password: the login
   * waits at that step, and the policy's decision (MFA, enrolment) is made once it is done. A login
   * the policy refuses outright is refused at once.
   */
  async function afterPasswordStep(tx: LoginTransaction, user: SigningInUser, decision: AuthnDecision, meta: RequestMeta, trustedDeviceId: string | null) {
    if (!user.passwordTemporaryUntil || decision.outcome === 'deny') return next(tx, decision, meta, false, trustedDeviceId);
    await transactions.save({ ...tx, stage: 'password_change', methods: [], temporaryPasswordUntil: user.passwordTemporaryUntil.getTime() });
    return { kind: 'password_change' } as const;
  }

  /** The second-factor lockout, with how long it lasts (`until`) when known, for the user to be told. */
  function mfaLocked(until: Date | null | undefined): IdpError {
    const left = until ? Math.ceil((until.getTime() - clock.now()) / 1000) : 0;
    return new IdpError('mfa_locked', 'second factor temporarily locked after repeated failures; sign in again later', left > 0 ? { retryAfterSec: left } : {});
  }

  /** Until when the account's second factor is locked, read when the lock was set by another request. */
  const lockedUntil = async (accountId: string) => (await deps.accounts.findSigningIn(accountId))?.mfaLockedUntil;

  /** A locked second factor ends the login in progress too: after the lock it starts again from the password, so a lock cannot be waited out inside one login. */
  async function endLocked(uid: string, until: Date | null | undefined): Promise<never> {
    await transactions.clear(uid);
    throw mfaLocked(until);
  }

  return {
    transactions,

    /** After a correct password: finish, or ask for MFA / enrolment, or deny. */
    async afterPassword(
      input: { uid: string; origin: LoginOrigin; user: SigningInUser; clientId: string; requestedAal?: Aal; rememberMe?: boolean } & RequestMeta,
    ): Promise<Outcome> {
      const { user } = input;
      const events = [passwordEvent(clock.now())];
      const { decision, trustedDeviceId, risk, settings } = await evaluate(
        user,
        input.clientId,
        events,
        input.requestedAal,
        input.ip,
        { token: input.deviceToken },
        { assess: input },
      );
      // Only where the organisation allows it; the choice rides in the transaction to the finish.
      const rememberMe = input.rememberMe === true && settings.sessions.allow_remember_me;
      return afterPasswordStep({ ...started(input, user, events, false, risk), ...(rememberMe ? { rememberMe } : {}) }, user, decision, input, trustedDeviceId);
    },

    /**
     * The user replaced the temporary password this login was signed in with (the caller changed
     * it): the login goes on to what the policy asks. A trusted device waives nothing here, as the
     * account is being recovered.
     */
    async passwordChanged(input: { uid: string; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'password_change');
      const user = await loadUser(tx.accountId);
      const { decision } = await evaluate(user, tx.clientId, tx.events, input.requestedAal, input.ip, undefined, keptRisk(tx));
      return next({ ...tx, temporaryPasswordUntil: undefined }, decision, input, false);
    },

    /** A signed-in session that must prove more (step-up, reauth interval): only the challenge runs. */
    async beginStepUp(
      input: { uid: string; origin: LoginOrigin; accountId: string; authTime: number; amr?: string[]; clientId: string; requestedAal?: Aal } & RequestMeta,
    ): Promise<Outcome> {
      const user = await loadUser(input.accountId);
      const prior = await deps.authnStates.get({ accountId: user.id, authTime: input.authTime, amr: input.amr });
      const events = prior?.events ?? [passwordEvent(input.authTime * 1000)];
      const { decision, trustedDeviceId } = await evaluate(user, input.clientId, events, input.requestedAal, input.ip, { token: input.deviceToken });
      return next(started(input, user, events, true), decision, input, false, trustedDeviceId);
    },

    /**
     * Starts a challenge of a method with that step (WebAuthn request options, a code sent): its
     * state stays in the transaction under the method's challenge path, replacing any earlier one
     * there, and only what the client needs is returned.
     */
    async startChallenge(input: { uid: string; method: MfaMethod; input?: unknown; requiredAal?: Aal; ip?: string }): Promise<Record<string, unknown>> {
      const tx = await requireTx(input.uid, 'mfa');
      const factor = offered(tx, input.method);
      const step = factor.challenge;
      if (!step) throw new IdpError('invalid_method', `${input.method} has no challenge to start`);
      const { shown, state } = await step.start(
        { accountId: tx.accountId, now: clock.now(), requiredAal: input.requiredAal, binding: bindingOf(tx), origin: { ip: input.ip, clientId: tx.clientId } },
        input.input,
      );
      await transactions.saveChallenge(tx, factor.paths.challenge, input.method, state);
      return shown;
    },

    /**
     * A response to this login's challenge. `method` names the method; for a challenge path several
     * methods share, `path` instead, and the method is the one last started there.
     */
    async verify(input: ({ method: MfaMethod } | { path: string }) & { uid: string; code: unknown; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'mfa');
      const path = 'path' in input ? input.path : offered(tx, input.method).paths.challenge;
      const pathFactor = 'method' in input ? offered(tx, input.method) : deps.factors.factors.find((f) => f.paths.challenge === path && f.challenge);
      // A challenge is answered once, right or wrong, unless its method limits the tries itself.
      const challenge = pathFactor?.challenge ? await transactions.challenge(tx, path, (pathFactor.challenge.answered ?? 'once') === 'once') : undefined;
      if (pathFactor?.challenge && !challenge) throw new IdpError('invalid_step', `start a ${'method' in input ? input.method : path} challenge first`);
      const method = challenge?.method ?? ('method' in input ? input.method : undefined);
      if (!method) throw new IdpError('invalid_step', `start a ${path} challenge first`);
      // The method that started the challenge must still be one this login offers.
      const factor = offered(tx, method);
      // An answer awaited on another device is polled: until it is in, nothing is counted, reserved or taken.
      const waiting = await factor.challenge?.waiting?.({ accountId: tx.accountId, now: clock.now(), challenge: challenge?.state, binding: bindingOf(tx) });
      if (waiting) return { kind: 'pending', shown: waiting };
      const attempt = await transactions.countAttempt(input.uid);
      if (attempt > deps.config.mfa.attemptsPerChallenge) throw new IdpError('too_many_attempts', 'too many wrong codes: start the sign-in again');
      const reservation = await deps.outcomes.reserveSigningIn(tx.accountId, tx.organizationId);
      if (!reservation) {
        // Nothing reserved: an account no longer active says so (loadUser throws), a locked factor ends the login.
        return endLocked(input.uid, (await loadUser(tx.accountId)).mfaLockedUntil);
      }
      const { user, attempt: reserved } = reservation;
      let event: AuthEvent;
      try {
        event = await factor.verify({ accountId: user.id, now: clock.now(), challenge: challenge?.state, binding: bindingOf(tx) }, input.code);
      } catch (err) {
        if (!(err instanceof FactorError)) throw err;
        if (await deps.outcomes.failed(user, method, input, reserved)) await endLocked(input.uid, reserved.lockedUntil);
        if (attempt >= deps.config.mfa.attemptsPerChallenge) throw new IdpError('too_many_attempts', 'too many wrong codes: start the sign-in again');
        throw err;
      }
      // A right code found while a concurrent failure locked the factor ends the login like that failure.
      if (!(await deps.outcomes.verified(user, method, input, reserved))) return endLocked(input.uid, await lockedUntil(user.id));
      const events = [...tx.events, event];
      // Decided once, on what has now been proven; a trusted device plays no part once a factor is being proven.
      const { decision, settings } = await evaluate(user, tx.clientId, events, input.requestedAal, input.ip, undefined, keptRisk(tx));
      const offerTrust = settings.mfa.trusted_device_duration_days > 0 && !tx.stepUp;
      return next({ ...tx, events }, decision, input, offerTrust);
    },

    /** A passwordless sign-in's challenge, before anyone is known; only the latest one of this login can be answered. */
    async startPasswordless(input: { uid: string; method: MfaMethod }): Promise<Record<string, unknown>> {
      const step = deps.factors.get(input.method)?.passwordless;
      if (!step) throw new IdpError('invalid_method', `${input.method} cannot sign in without a password`);
      const { shown, state } = await step.start(clock.now());
      await transactions.saveOpenChallenge(input.uid, input.method, state);
      return shown;
    },

    /**
     * Signing in with a method that names the account (a discoverable passkey) instead of a
     * password. The account's second-factor lockout applies as to any factor check; its password
     * lockout is neither consulted nor cleared, as no password was tried.
     */
    async signInWithout(
      input: { uid: string; origin: LoginOrigin; method: MfaMethod; response: unknown; clientId: string; requestedAal?: Aal } & RequestMeta,
    ): Promise<Outcome> {
      const factor = deps.factors.get(input.method);
      if (!factor?.passwordless) throw new IdpError('invalid_method', `${input.method} cannot sign in without a password`);
      // Answered once, right or wrong.
      const challenge = await transactions.takeOpenChallenge(input.uid, input.method);
      if (!challenge) throw new IdpError('invalid_step', `start a ${input.method} sign-in first`);
      const refused = (reason: string) => {
        metrics.logins.inc({ outcome: 'failure' });
        return new FactorError('invalid_code', reason);
      };
      const owner = await factor.passwordless.identify(input.response);
      if (!owner) throw refused('the credential names no account');
      const reservation = await deps.outcomes.reserveSigningIn(owner.accountId, owner.organizationId);
      if (!reservation) {
        // Nothing reserved: a disabled or administratively locked account is answered like a wrong passkey; else the factor is locked.
        const account = await deps.accounts.findSigningIn(owner.accountId);
        if (account?.status !== 'active') throw refused(`account_${account?.status ?? 'gone'}`);
        throw mfaLocked(account.mfaLockedUntil);
      }
      const { user, attempt } = reservation;
      let event: AuthEvent;
      try {
        event = await factor.verify({ accountId: user.id, now: clock.now(), challenge: challenge.state }, input.response);
      } catch (err) {
        if (err instanceof FactorError) await deps.outcomes.failed(user, input.method, input, attempt);
        throw err;
      }
      if (!(await deps.outcomes.verified(user, input.method, input, attempt))) throw mfaLocked(await lockedUntil(user.id));
      const { decision, trustedDeviceId, risk } = await evaluate(
        user,
        input.clientId,
        [event],
        input.requestedAal,
        input.ip,
        { token: input.deviceToken },
        { assess: input },
      );
      return next(started(input, user, [event], false, risk), decision, input, false, trustedDeviceId);
    },

    /** The login name the reauth step asks the password for: the account is fixed, only the password is typed. */
    async reauthUsername(uid: string): Promise<string> {
      const tx = await requireTx(uid, 'reauth');
      const user = await loadUser(tx.accountId);
      return user.username ?? user.email ?? '';
    },

    /** How long a device trusted at this login's trust step is trusted, in days (the policy in force for its account and app). */
    async trustedDeviceDays(uid: string): Promise<number> {
      const tx = await requireTx(uid, 'trust_device');
      const { settings } = await context(await loadUser(tx.accountId), tx.clientId);
      return settings.mfa.trusted_device_duration_days;
    },

    /** The password was given again (and checked by the login service): the login carries on with a fresh password. */
    async reauthenticated(input: { uid: string; user: SigningInUser; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'reauth');
      if (input.user.id !== tx.accountId) throw new IdpError('invalid_credentials', 'invalid username or password', { detail: { reason: 'another_account' } });
      const events = [passwordEvent(clock.now()), ...tx.events.filter((e) => e.factor !== 'password')];
      const { decision } = await evaluate(input.user, tx.clientId, events, input.requestedAal, input.ip, undefined, keptRisk(tx));
      return afterPasswordStep({ ...tx, events }, input.user, decision, input, null);
    },

    /**
     * One pending credential per login: every render of the enrolment shows the same one until it is
     * confirmed. The authenticator files it under the organisation's display name (`issuer` is our issuer URL).
     */
    async enrollBegin(uid: string, method: MfaMethod, issuer: string): Promise<EnrolmentStart> {
      const tx = await requireTx(uid, 'enroll');
      const enrolment = enrolmentOffered(tx, method);
      const [user, { branding }] = await Promise.all([loadUser(tx.accountId), deps.settings.effective(tx.organizationId)]);
      const pending = tx.pendingCredentials?.[method];
      const label = issuerLabel(branding.display_name, issuer);
      const start = await enrolment.begin(user.id, user.email ?? user.username ?? user.externalId, label, pending, bindingOf(tx));
      if (start.credentialId !== pending) await transactions.save({ ...tx, pendingCredentials: { ...tx.pendingCredentials, [method]: start.credentialId } });
      return start;
    },

    /**
     * `showBackupCodes`: a caller that can show them once (a browser page) has the account's first
     * factor followed by a new set of backup codes, the recovery NIST SP 800-63B §5.1.2 allows, before
     * the login goes on (see backupCodes and backupCodesSaved).
     */
    async enrollConfirm(
      input: { uid: string; method: MfaMethod; code: unknown; requestedAal?: Aal; keepSessionUid?: string; showBackupCodes?: boolean } & RequestMeta,
    ): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'enroll');
      const enrolment = enrolmentOffered(tx, input.method);
      const user = await loadUser(tx.accountId);
      const attempt = await transactions.countAttempt(input.uid);
      if (attempt > deps.config.mfa.attemptsPerChallenge) throw new IdpError('too_many_attempts', 'too many wrong codes: start the sign-in again');
      let event: AuthEvent;
      try {
        event = await enrolment.confirm(user.id, input.code, bindingOf(tx));
      } catch (err) {
        if (!(err instanceof FactorError)) throw err;
        metrics.mfaChallenges.inc({ method: input.method, outcome: 'failed' });
        if (attempt >= deps.config.mfa.attemptsPerChallenge) throw new IdpError('too_many_attempts', 'too many wrong codes: start the sign-in again');
        throw err;
      }
      // This browser's own session carries on; the user's other sessions and trusted devices end.
      await deps.outcomes.changed(user, { ...input, keepSessionUid: input.keepSessionUid }, 'authn.factor.enrolled', { method: input.method });
      // The user was read before the confirmation: the method just confirmed counts as enrolled now.
      const enrolledNow = { ...user, activeCredentials: { ...user.activeCredentials, [input.method]: (user.activeCredentials[input.method] ?? 0) + 1 } };
      const { decision, settings } = await evaluate(enrolledNow, tx.clientId, [...tx.events, event], input.requestedAal, input.ip, undefined, keptRisk(tx));
      const firstFactor = deps.factors.enrolledIn(user.activeCredentials).length === 0;
      if (input.showBackupCodes && firstFactor && settings.mfa.allowed_methods.includes('backup_code')) {
        const waiting: LoginTransaction = { ...tx, events: [...tx.events, event], stage: 'backup_codes', methods: [] };
        await transactions.save(waiting);
        await transactions.saveChallenge(waiting, BACKUP_CODES_SHOWN, 'backup_code', null);
        return { kind: 'backup_codes' };
      }
      return next({ ...tx, events: [...tx.events, event] }, decision, input, settings.mfa.trusted_device_duration_days > 0 && !tx.stepUp);
    },

    /**
     * The backup codes of a login at that step, made the first time they are asked for and never
     * again (the plain codes are kept nowhere): undefined once they were shown.
     */
    async backupCodes(uid: string): Promise<string[] | undefined> {
      const tx = await requireTx(uid, 'backup_codes');
      const selfService = deps.factors.get('backup_code')?.selfService;
      if (!selfService?.issue || !(await transactions.challenge(tx, BACKUP_CODES_SHOWN, true))) return undefined;
      const issued = await selfService.issue(tx.accountId);
      await audit.record({ type: issued.audit.type, outcome: 'success', subject: tx.accountId, organizationId: tx.organizationId, data: issued.audit.data });
      return issued.shown.backup_codes as string[];
    },

    /** The user saved their backup codes: the login goes on as the confirmed factor allows. */
    async backupCodesSaved(input: { uid: string; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'backup_codes');
      if (!(await transactions.take(input.uid))) throw new IdpError('invalid_step', 'this interaction is not at the backup_codes step');
      const user = await loadUser(tx.accountId);
      const { decision, settings } = await evaluate(user, tx.clientId, tx.events, input.requestedAal, input.ip, undefined, keptRisk(tx));
      return next(tx, decision, input, settings.mfa.trusted_device_duration_days > 0 && !tx.stepUp);
    },

    async trustDevice(input: { uid: string; trust: boolean; name?: string } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'trust_device');
      const taken = await transactions.take(input.uid);
      if (!taken) throw new IdpError('invalid_step', 'this interaction is not at the trust_device step');
      if (!input.trust) return finish(tx, input, null, undefined, tx.decided);
      const user = await loadUser(tx.accountId);
      const { settings } = await context(user, tx.clientId);
      const days = settings.mfa.trusted_device_duration_days;
      const { token, device } = await deps.devices.issue(user.id, days, { name: input.name, ip: input.ip, userAgent: input.userAgent });
      return finish(tx, input, device.id, { token, maxAgeMs: days * 86_400_000 }, tx.decided);
    },

    /**
     * For the provider's login Check: does this signed-in session still satisfy the policy and
     * the requested acr? False makes the provider start an interaction.
     */
    async sessionSatisfies(input: {
      accountId: string;
      authTime: number;
      amr?: string[];
      clientId: string;
      requestedAal?: Aal;
      deviceToken?: string;
      /** The browser's address; without it no network skips MFA, and `block_unknown` refuses the session. */
      ip?: string;
    }): Promise<boolean> {
      const user = await deps.accounts.findSigningIn(input.accountId);
      // An account that cannot sign in satisfies nothing; the provider's account check asks for a fresh login.
      if (!user || user.status !== 'active') return false;
      const state = await deps.authnStates.get({ accountId: user.id, authTime: input.authTime, amr: input.amr });
      const events = state?.events ?? [passwordEvent(input.authTime * 1000)];
      const { decision } = await evaluate(user, input.clientId, events, input.requestedAal, input.ip, { token: input.deviceToken, id: state?.trustedDeviceId });
      return decision.outcome === 'satisfied';
    },

    /**
     * An approval the organisation's own app collected (a prompt acknowledged through a step
     * webhook): an approve-only event, AAL1 whatever the method's descriptor says, so on its own it
     * never reaches AAL2, a step-up or an admin login (NIST SP 800-63B rev 4). The account's
     * second-factor lock applies as to any factor.
     */
    async approvedOutOfBand(input: { uid: string; method: MfaMethod; requestedAal?: Aal } & RequestMeta): Promise<Outcome> {
      const tx = await requireTx(input.uid, 'mfa');
      const factor = offered(tx, input.method);
      const reservation = await deps.outcomes.reserveSigningIn(tx.accountId, tx.organizationId);
      if (!reservation) return endLocked(input.uid, (await loadUser(tx.accountId)).mfaLockedUntil);
      const { user, attempt } = reservation;
      if (!(await deps.outcomes.verified(user, input.method, input, attempt))) return endLocked(input.uid, await lockedUntil(user.id));
      const events = [...tx.events, eventOf(factor.descriptor, clock.now(), 'webhook', { aal: 1, multiFactor: false })];
      const { decision, settings } = await evaluate(user, tx.clientId, events, input.requestedAal, input.ip, undefined, keptRisk(tx));
      return next({ ...tx, events }, decision, input, settings.mfa.trusted_device_duration_days > 0 && !tx.stepUp);
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
