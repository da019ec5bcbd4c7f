import { randomUUID } from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import type { FactorRegistry } from '../authn/factors/registry.js';
import type { ChangeContext, FactorManagementService } from '../authn/self-service.service.js';
import type { Clock } from '../lib/clock.js';
import { safeEqual } from '../lib/crypto.js';
import { IdpError, conflict } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { MfaMethod } from '../policy/types.js';
import type { RecoveryMethod, RecoveryRequestRow, User } from '../store/database.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { RecoveryRequestRepository, WaitStart } from '../store/repositories/recovery-request.repository.js';
import type { TrustedContactRepository } from '../store/repositories/trusted-contact.repository.js';
import type { RecoveryMail } from './recovery-mail.js';
import type { RecoverySecrets } from './recovery-secrets.js';
import { recoveryState } from './recovery-view.js';
import type { RecoveryStartInput } from './recovery.schema.js';

export interface RecoveryDeps {
  accounts: Pick<AccountRepository, 'findByLogin' | 'findById'>;
  requests: RecoveryRequestRepository;
  ephemeral: Pick<EphemeralStore, 'increment'>;
  contacts: Pick<TrustedContactRepository, 'list'>;
  factors: Pick<FactorRegistry, 'get'>;
  management: Pick<FactorManagementService, 'beginEnrolment' | 'confirmEnrolment' | 'assertMethodAllowed'>;
  settings: Pick<SettingsService, 'effective'>;
  mail: RecoveryMail;
  secrets: RecoverySecrets;
  audit: Pick<AuditService, 'record'>;
  clock: Clock;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Shown by authenticator apps next to the account. */
  issuerName: string;
}

/** Who asked, for the audit trail. */
export interface RecoveryMeta {
  ip?: string;
  requestId?: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** How long the link or code sent to a verified destination confirms the request. */
const CONFIRM_WINDOW = 30 * MINUTE;
/** How long trusted contacts have to approve. */
const APPROVAL_WINDOW = 24 * HOUR;
/** How long a ready request allows its one enrolment. */
const ENROL_WINDOW = 24 * HOUR;
/** Requests started per account per hour, whoever starts them; beyond it a start is answered alike and does nothing. */
const PER_ACCOUNT_PER_HOUR = 3;
/** Tries of a code, and wrong answers of the enrolment, per request. */
export const MAX_ATTEMPTS = 5;

/**
 * What recovering by a channel proved: a factor the same channel gives is no second factor beside it
 * (NIST SP 800-63B: recovery must not lower assurance), so it cannot be the one enrolled.
 */
const SAME_CHANNEL: Record<RecoveryMethod, readonly MfaMethod[]> = {
  email: ['email'],
  phone: ['sms', 'voice'],
  trusted_contacts: [],
};

/** One answer for every request that cannot be confirmed (unknown, wrong, used, expired): nothing is learnt from it. */
const invalid = () => new IdpError('invalid_code', 'the recovery link or code is not valid');

/**
 * Recovery when every factor is lost (NIST SP 800-63B §6.1.2.3, OWASP ASVS 5 6.4): a request
 * confirmed through a verified e-mail address or phone, or approved by trusted contacts, waits for
 * the organisation's waiting period while the owner's every verified address is told (with a
 * cancel link), then allows the enrolment of one new factor. It never signs anyone in: after it,
 * the user signs in with their password and the new factor.
 */
export function createRecoveryService(deps: RecoveryDeps) {
  const { requests, secrets, clock } = deps;
  const now = () => new Date(clock.now());

  const audit = (
    type: string,
    r: Pick<RecoveryRequestRow, 'id' | 'userId' | 'organizationId' | 'method'>,
    meta: RecoveryMeta & { actor?: string },
    data = {},
  ) =>
    deps.audit.record({
      type,
      outcome: 'success',
      actor: meta.actor ?? 'anonymous',
      subject: r.userId,
      organizationId: r.organizationId,
      ip: meta.ip,
      requestId: meta.requestId,
      data: { request_id: r.id, method: r.method, ...data },
    });

  /** The start of a waiting period now, in the user's organisation, with a new cancel token for the owner. */
  async function waitFrom(r: Pick<RecoveryRequestRow, 'id' | 'organizationId'>): Promise<{ wait: WaitStart; cancelToken: string }> {
    const at = now();
    const hours = (await deps.settings.effective(r.organizationId)).recovery.waiting_period_hours;
    const readyAt = new Date(at.getTime() + hours * HOUR);
    const cancelToken = secrets.token();
    return {
      wait: { at, readyAt, expiresAt: new Date(readyAt.getTime() + ENROL_WINDOW), cancelTokenHash: secrets.hash('cancel', r.id, cancelToken) },
      cancelToken,
    };
  }

  /** Starts the waiting period's notices: every verified address of the owner hears of it, with the cancel link. */
  async function waiting(r: RecoveryRequestRow, cancelToken: string, meta: RecoveryMeta & { actor?: string }): Promise<void> {
    await audit('recovery.confirmed', r, meta, { ready_at: r.readyAt?.toISOString() });
    const user = await deps.accounts.findById(r.userId);
    if (!user) return;
    await deps.mail
      .sendWaiting(user, r.id, cancelToken, r.readyAt!)
      .catch((err: unknown) => deps.logger.error({ err, requestId: r.id }, 'recovery notices could not be sent'));
  }

  /** The request of the start, when the account exists and has somewhere to be reached; nothing otherwise. */
  async function create(id: string, requestToken: string, input: RecoveryStartInput, meta: RecoveryMeta): Promise<void> {
    const user = await deps.accounts.findByLogin(input.username_or_email);
    if (!user || user.status !== 'active') return;
    const at = now();
    // Counted atomically before anything is made or sent: parallel starts cannot slip past it.
    if ((await deps.ephemeral.increment(`recovery-start:${user.id}`, 3600)) > PER_ACCOUNT_PER_HOUR) {
      deps.logger.warn({ userId: user.id }, 'recovery start ignored: the account is over its hourly limit');
      return;
    }
    const base = {
      id,
      userId: user.id,
      organizationId: user.organizationId,
      method: input.method,
      requestTokenHash: secrets.hash('request', id, requestToken),
      createdAt: at,
    };
    if (input.method === 'trusted_contacts') {
      const required = (await deps.settings.effective(user.organizationId)).recovery.trusted_contacts_required;
      const named = await deps.contacts.list(user.id);
      const contacts = (await Promise.all(named.map((c) => deps.accounts.findById(c.id)))).filter((c): c is User => c?.status === 'active');
      if (contacts.length < required) return;
      const r = await requests.create({
        ...base,
        status: 'pending_approvals',
        requiredApprovals: required,
        expiresAt: new Date(at.getTime() + APPROVAL_WINDOW),
      });
      await audit('recovery.requested', r, meta);
      await deps.mail.askContacts(user, contacts, id);
      return;
    }
    const to = input.method === 'email' ? await deps.mail.emailsOf(user) : await deps.mail.phonesOf(user);
    if (!to.length) return;
    const secret = input.method === 'email' ? secrets.token() : secrets.code();
    const r = await requests.create({
      ...base,
      status: 'pending_confirmation',
      tokenHash: secrets.hash('confirm', id, secret),
      expiresAt: new Date(at.getTime() + CONFIRM_WINDOW),
    });
    await audit('recovery.requested', r, meta);
    await (input.method === 'email' ? deps.mail.sendLink(user, to, id, secret) : deps.mail.sendCode(user, to, secret));
  }

  /** The request, when `requestToken` is the one its start answered with. */
  async function held(id: string, requestToken: string): Promise<RecoveryRequestRow> {
    const r = await requests.find(id);
    if (!r || !safeEqual(r.requestTokenHash, secrets.hash('request', id, requestToken))) throw invalid();
    return r;
  }

  /** Why a held request allows no enrolment now. */
  function notReady(r: RecoveryRequestRow): IdpError {
    const state = recoveryState(r, clock.now());
    if (state === 'waiting') return conflict(`the recovery request is in its waiting period until ${r.readyAt!.toISOString()}`);
    return conflict(`the recovery request allows no enrolment: it is ${state}`);
  }

  /** The method's enrolment, refused when it is the channel the recovery went through. */
  function enrolmentOf(r: RecoveryRequestRow, method: MfaMethod) {
    if (SAME_CHANNEL[r.method].includes(method)) {
      throw new IdpError('invalid_method', `a recovery by ${r.method} cannot enrol ${method}: enrol a factor independent of the recovery channel`);
    }
    const factor = deps.factors.get(method);
    if (!factor?.enrolment || !factor.selfService?.enrolmentBody) throw new IdpError('invalid_method', `${method} cannot be enrolled here`);
    return { enrolment: factor.enrolment, shown: factor.selfService.enrolmentBody.bind(factor.selfService) };
  }

  // The enrolment's binding: only this request's answers confirm what it began.
  const changeOf = (r: RecoveryRequestRow, meta: RecoveryMeta): ChangeContext => ({
    actor: `recovery:${r.id}`,
    via: 'self_service',
    ip: meta.ip,
    requestId: meta.requestId,
  });

  async function userOf(r: RecoveryRequestRow): Promise<User> {
    const user = await deps.accounts.findById(r.userId);
    if (!user || user.status !== 'active') throw notReady({ ...r, status: 'cancelled' });
    return user;
  }

  return {
    /**
     * The same answer, at once, whether or not the account exists or can be reached: the request
     * is made (and its messages sent) after the answer, with its errors logged.
     */
    start(input: RecoveryStartInput, meta: RecoveryMeta): { request_id: string; request_token: string; status: 'accepted' } {
      const id = randomUUID();
      const requestToken = secrets.token();
      setImmediate(() => {
        create(id, requestToken, input, meta).catch((err: unknown) => deps.logger.error({ err }, 'a recovery request could not be started'));
      });
      return { request_id: id, request_token: requestToken, status: 'accepted' };
    },

    /** The link's token or the SMS code: the waiting period starts, and the owner's addresses hear of it. */
    async confirm(id: string, secret: string, meta: RecoveryMeta) {
      const r = await requests.find(id);
      if (!r || r.status !== 'pending_confirmation') throw invalid();
      // The try is taken before the check, so parallel guesses cannot exceed the limit.
      if (!(await requests.spendAttempt(id, 'pending_confirmation', MAX_ATTEMPTS, now()))) throw invalid();
      const { wait, cancelToken } = await waitFrom(r);
      const confirmed = await requests.confirm(id, secrets.hash('confirm', id, secret), wait);
      if (!confirmed) throw invalid();
      await waiting(confirmed, cancelToken, meta);
      return { status: recoveryState(confirmed, clock.now()), ready_at: confirmed.readyAt!.toISOString() };
    },

    /** The owner's cancel link: once, while the request is open. */
    async cancel(id: string, token: string, meta: RecoveryMeta) {
      const r = await requests.cancel(id, 'owner', now(), secrets.hash('cancel', id, token));
      if (!r) throw invalid();
      await audit('recovery.cancelled', r, meta, { by: 'owner' });
      return { status: 'cancelled' };
    },

    /** Begins the one enrolment of a ready request (held by whoever has the start's token). */
    async beginEnrolment(id: string, requestToken: string, method: MfaMethod, meta: RecoveryMeta) {
      const r = await held(id, requestToken);
      const { shown } = enrolmentOf(r, method);
      if (recoveryState(r, clock.now()) !== 'ready') throw notReady(r);
      const user = await userOf(r);
      await deps.management.assertMethodAllowed(user, method);
      return shown(await deps.management.beginEnrolment(user, method, user.email ?? user.username ?? user.externalId, deps.issuerName, changeOf(r, meta)));
    },

    /**
     * Completes it with the new factor's first valid response; the request is then used up. The
     * request is held meanwhile, so two answers, or an answer and a cancellation, never both succeed.
     */
    async confirmEnrolment(id: string, requestToken: string, method: MfaMethod, response: unknown, meta: RecoveryMeta) {
      const r = await held(id, requestToken);
      enrolmentOf(r, method);
      const claimed = await requests.claim(id, r.requestTokenHash, now(), MAX_ATTEMPTS);
      if (!claimed)
        throw r.status === 'waiting' && r.attempts >= MAX_ATTEMPTS ? new IdpError('too_many_attempts', 'this recovery request has no tries left') : notReady(r);
      try {
        const user = await userOf(claimed);
        const event = await deps.management.confirmEnrolment(user, method, response, changeOf(claimed, meta));
        const done = await requests.complete(id, method, now());
        await audit('recovery.completed', claimed, meta, { enrolled: method, credential: event.credentialId });
        return { status: done?.status ?? 'completed', method };
      } catch (err) {
        await requests.release(id);
        throw err;
      }
    },

    waitFrom,
    waiting,
    audit,
  };
}

export type RecoveryService = ReturnType<typeof createRecoveryService>;
