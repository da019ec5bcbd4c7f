import type { AuditService } from '../audit/audit.service.js';
import type { HttpExchange } from '../authn/login-request.js';
import type { SsoSessions } from '../authn/sso-session.js';
import { hmac, randomToken } from '../lib/crypto.js';
import { IdpError } from '../lib/errors.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { SamlServiceProvider, SamlServiceProviderRepository } from '../store/repositories/saml-service-provider.repository.js';
import type { SamlSessionParticipant, SamlSessionRepository } from '../store/repositories/saml-session.repository.js';
import { createBrowserKey } from './browser-key.js';
import { samlEndpoints } from './identity-provider.js';
import { SamlMessageError, refuse, type IncomingSamlMessage } from './incoming-message.js';
import type { LogoutMessages, OutgoingMessage } from './logout-builder.js';
import type { LogoutMessageReader, ValidatedLogoutMessage, ValidatedLogoutRequest, ValidatedLogoutResponse } from './logout-message.js';

/** How long a logout chain waits for the browser to come back from an SP. */
const CHAIN_TTL_SEC = 10 * 60;
/** How long a POSTed message waits for the browser's GET that continues it. */
const CONTINUE_TTL_SEC = 120;

/** A checked message waiting for the GET that acts on it: everything but the SP, which is read again. */
type Kept = (ValidatedLogoutMessage extends infer M ? (M extends { sp: unknown } ? Omit<M, 'sp'> : never) : never) & { spId: string };

/** What a step of single logout leads to: a message the browser carries to an SP, or the end (the signed-out page). */
export type SloStep = { kind: 'send'; message: OutgoingMessage } | { kind: 'done' };

export interface SloMeta {
  ip?: string;
  requestId?: string;
}

/** A participant still to be told, as it received the session (SAML 2.0 Profiles §4.4.4.1: the NameID and SessionIndex it was given). */
interface PendingParticipant {
  spId: string;
  nameId: string;
  nameIdFormat: string;
  sessionIndex: string;
}

/** A logout in progress, kept server-side under the browser's key (SAML 2.0 Profiles §4.4.3.2–4.4.3.4). */
interface LogoutChain {
  /** The SP whose LogoutRequest started it, answered last; absent when the user logged out at the IdP. */
  initiator?: { spId: string; requestId: string; relayState?: string };
  accountId?: string;
  pending: PendingParticipant[];
  /** The LogoutRequest the browser is carrying now, and to whom. */
  current?: { spId: string; requestId: string };
  /** SPs that answered Success; and those that answered otherwise or could not be asked. */
  notified: number;
  failed: number;
}

export interface SamlSloDeps {
  readLogoutMessage: LogoutMessageReader;
  messages: LogoutMessages;
  serviceProviders: Pick<SamlServiceProviderRepository, 'find'>;
  participants: Pick<SamlSessionRepository, 'findByIndex' | 'listBySession' | 'takeBySession'>;
  sessions: SsoSessions;
  ephemeral: EphemeralStore;
  audit: AuditService;
  box: { open(sealed: string): string };
  idKey: string;
  issuer: string;
}

/**
 * SAML single logout (SAML 2.0 Profiles §4.4) at `/saml/slo`: an SP's signed LogoutRequest ends the
 * one SSO session (and with it the OIDC grants), then the browser is sent with a signed
 * LogoutRequest to every other SP of the session in turn, and at last back to the SP that asked
 * with a LogoutResponse; `/saml/logout` runs the same chain for a user signing out at the IdP.
 */
export function createSamlSlo(deps: SamlSloDeps) {
  const { ephemeral, audit } = deps;
  const urls = samlEndpoints(deps.issuer);
  const browserOf = createBrowserKey(deps);
  const chainKey = (browser: string) => `saml:logout-chain:${browser}`;
  const continueKey = (token: string) => `saml:logout-continue:${hmac(deps.idKey, token)}`;
  const sessionKey = (uid: string) => hmac(deps.idKey, uid);

  const audience = (meta: SloMeta, sp?: SamlServiceProvider, subject?: string) => ({
    subject,
    organizationId: sp?.organizationId,
    ip: meta.ip,
    requestId: meta.requestId,
    clientId: sp?.entityId,
  });

  async function refused(err: unknown, meta: SloMeta, sp?: SamlServiceProvider): Promise<never> {
    if (err instanceof SamlMessageError) {
      await audit.record({
        type: 'saml.logout.refused',
        outcome: 'failure',
        ...audience(meta, sp),
        data: { reason: err.reason, ...(sp ? { sp: sp.entityId } : {}) },
      });
    }
    throw err;
  }

  async function read(incoming: IncomingSamlMessage, meta: SloMeta): Promise<ValidatedLogoutMessage> {
    return deps.readLogoutMessage(incoming).catch((err: unknown) => refused(err, meta));
  }

  /**
   * The session a LogoutRequest names: by the SessionIndex this SP was given (a cross-site POST
   * carries no session cookie), or without one the browser's own session; either way only if
   * this SP takes part in it under the NameID the request names.
   */
  async function sessionNamed(http: HttpExchange, request: ValidatedLogoutRequest): Promise<{ uid: string; accountId: string } | undefined> {
    const sameName = (p: SamlSessionParticipant) =>
      p.nameId === request.nameId && (request.nameIdFormat === undefined || request.nameIdFormat === p.nameIdFormat);
    if (request.sessionIndexes.length) {
      for (const index of request.sessionIndexes) {
        const participant = await deps.participants.findByIndex(request.sp.id, index);
        if (!participant) continue;
        if (!sameName(participant)) throw refuse('name_id_mismatch', 'the NameID is not the one this service provider was given for that session');
        return { uid: deps.box.open(participant.sessionUidSealed), accountId: participant.accountId };
      }
      return undefined;
    }
    const current = await deps.sessions.current(http);
    if (!current) return undefined;
    const participants = await deps.participants.listBySession(sessionKey(current.uid));
    return participants.some((p) => p.spId === request.sp.id && sameName(p)) ? { uid: current.uid, accountId: current.accountId } : undefined;
  }

  /**
   * Ends the session everywhere the IdP can itself (its OIDC grants and back-channel logout go
   * with it) and returns the SAML participants still to be told. Taking the rows makes concurrent
   * logouts of one session tell each SP once.
   */
  async function endSession(http: HttpExchange, uid: string): Promise<SamlSessionParticipant[]> {
    const browserSession = await deps.sessions.current(http);
    const participants = await deps.participants.takeBySession(sessionKey(uid));
    await deps.sessions.end(uid);
    if (!browserSession || browserSession.uid === uid) deps.sessions.forget(http);
    return participants;
  }

  async function saveChain(http: HttpExchange, chain: LogoutChain) {
    await ephemeral.set(chainKey(browserOf(http, true)!), JSON.stringify(chain), CHAIN_TTL_SEC);
  }

  /** Sends the browser on to the next participant, or ends the chain: the initiator's LogoutResponse, or the signed-out page. */
  async function next(http: HttpExchange, chain: LogoutChain, meta: SloMeta): Promise<SloStep> {
    for (let p = chain.pending.shift(); p; p = chain.pending.shift()) {
      const sp = await deps.serviceProviders.find(p.spId);
      const built = sp && deps.messages.request({ sp, nameId: p.nameId, nameIdFormat: p.nameIdFormat, sessionIndex: p.sessionIndex });
      if (!sp || !built) {
        // An SP without a SingleLogoutService cannot be told: the logout is partial (SAML 2.0 Core §3.7.3.2).
        chain.failed++;
        continue;
      }
      chain.current = { spId: sp.id, requestId: built.id };
      await saveChain(http, chain);
      return { kind: 'send', message: built.message };
    }
    const browser = browserOf(http, false);
    if (browser) await ephemeral.del(chainKey(browser));
    const initiator = chain.initiator && (await deps.serviceProviders.find(chain.initiator.spId));
    await audit.record({
      type: 'saml.logout.completed',
      outcome: 'success',
      ...audience(meta, initiator, chain.accountId),
      data: { initiated_by: chain.initiator ? 'sp' : 'idp', notified: chain.notified, partial: chain.failed > 0 },
    });
    const answer =
      chain.initiator &&
      initiator &&
      deps.messages.response({
        sp: initiator,
        inResponseTo: chain.initiator.requestId,
        status: chain.failed > 0 ? 'partial' : 'success',
        ...(chain.initiator.relayState !== undefined ? { relayState: chain.initiator.relayState } : {}),
      });
    return answer ? { kind: 'send', message: answer } : { kind: 'done' };
  }

  const pendingOf = (participants: SamlSessionParticipant[], except?: string): PendingParticipant[] =>
    participants.filter((p) => p.spId !== except).map((p) => ({ spId: p.spId, nameId: p.nameId, nameIdFormat: p.nameIdFormat, sessionIndex: p.sessionIndex }));

  async function onRequest(http: HttpExchange, request: ValidatedLogoutRequest, meta: SloMeta): Promise<SloStep> {
    const { sp } = request;
    const session = await sessionNamed(http, request).catch((err: unknown) => refused(err, meta, sp));
    await audit.record({
      type: 'saml.logout.requested',
      outcome: 'success',
      ...audience(meta, sp, session?.accountId),
      data: { sp: sp.entityId, session_found: session !== undefined },
    });
    // Logout is idempotent: a request naming no live session is answered Success and ends nothing.
    const participants = session ? await endSession(http, session.uid) : [];
    const chain: LogoutChain = {
      initiator: { spId: sp.id, requestId: request.id, ...(request.relayState !== undefined ? { relayState: request.relayState } : {}) },
      ...(session ? { accountId: session.accountId } : {}),
      pending: pendingOf(participants, sp.id),
      notified: 0,
      failed: 0,
    };
    return next(http, chain, meta);
  }

  async function onResponse(http: HttpExchange, response: ValidatedLogoutResponse, meta: SloMeta): Promise<SloStep> {
    const browser = browserOf(http, false);
    const raw = browser && (await ephemeral.take(chainKey(browser)));
    const chain = raw ? (JSON.parse(raw) as LogoutChain) : undefined;
    if (!chain?.current || chain.current.spId !== response.sp.id || chain.current.requestId !== response.inResponseTo) {
      if (chain) await ephemeral.set(chainKey(browser!), raw!, CHAIN_TTL_SEC);
      return refused(refuse('unexpected_response', 'this LogoutResponse answers no LogoutRequest this browser is carrying'), meta, response.sp);
    }
    if (response.success) chain.notified++;
    else chain.failed++;
    delete chain.current;
    return next(http, chain, meta);
  }

  const dispatch = (http: HttpExchange, message: ValidatedLogoutMessage, meta: SloMeta) =>
    message.kind === 'request' ? onRequest(http, message, meta) : onResponse(http, message, meta);

  return {
    /** A LogoutRequest or LogoutResponse at the SLO endpoint's HTTP-Redirect binding; a refused one is audited and throws, ending nothing. */
    async redirected(http: HttpExchange, incoming: IncomingSamlMessage, meta: SloMeta): Promise<SloStep> {
      return dispatch(http, await read(incoming, meta), meta);
    },

    /**
     * A message at the HTTP-POST binding. A cross-site POST carries no SameSite cookie, and the
     * chain lives under the browser's cookie: the message is read and checked now, and acted on
     * at the GET that follows (`continueAfterPost`).
     */
    async posted(incoming: IncomingSamlMessage, meta: SloMeta): Promise<string> {
      const { sp, ...message } = await read(incoming, meta);
      const token = randomToken(24);
      await ephemeral.set(continueKey(token), JSON.stringify({ ...message, spId: sp.id }), CONTINUE_TTL_SEC);
      return `${urls.slo}/continue/${token}`;
    },

    async continueAfterPost(http: HttpExchange, token: string, meta: SloMeta): Promise<SloStep> {
      const raw = await ephemeral.take(continueKey(token));
      const kept = raw ? (JSON.parse(raw) as Kept) : undefined;
      const sp = kept && (await deps.serviceProviders.find(kept.spId));
      if (!kept || !sp) throw new IdpError('invalid_step', 'this logout message has already been used or has expired');
      return dispatch(http, { ...kept, sp }, meta);
    },

    /** The user signs out at the IdP: the session ends, and every SAML participant is told in turn. */
    async logoutEverywhere(http: HttpExchange, meta: SloMeta): Promise<SloStep> {
      const session = await deps.sessions.current(http);
      if (!session) return { kind: 'done' };
      await audit.record({
        type: 'saml.logout.requested',
        outcome: 'success',
        ...audience(meta, undefined, session.accountId),
        data: { initiated_by: 'idp', session_found: true },
      });
      const participants = await endSession(http, session.uid);
      return next(http, { accountId: session.accountId, pending: pendingOf(participants), notified: 0, failed: 0 }, meta);
    },
  };
}

export type SamlSlo = ReturnType<typeof createSamlSlo>;
