import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import { hmac } from '../lib/crypto.js';
import { notFound } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { GeoLocator } from '../risk/geoip.js';
import type { User } from '../store/database.js';
import { UUID, type AccountRepository } from '../store/repositories/account.repository.js';
import type { ListedSession, SessionListRepository } from '../store/repositories/session-list.repository.js';
import { reaches, type OrgScope } from './changed-by.js';
import { deviceOf, locationOf, type SessionClient, type SessionView } from './session-view.js';

/** What the OIDC layer does for a revocation (it alone knows the provider's sessions and grants). */
export interface SessionRevoker {
  revokeSession(uid: string, opts: RevokeOptions): Promise<boolean>;
  endOtherSessions(accountId: string, keepSessionUid: string | undefined, opts: RevokeOptions): Promise<number>;
  offlineGrantsOf(accountId: string): Promise<{ grantId: string; clientId: string; scope: string; createdAt: number }[]>;
  revokeGrants(grantIds: readonly string[]): Promise<void>;
}

/** With `keepAppAccess`, the grants the user gave offline access survive the session (the user chose to keep their apps signed in). */
export interface RevokeOptions {
  keepAppAccess?: boolean;
}

/** Who ends a session, and from where: the user themselves or an administrator's API key. */
export interface Revoker {
  actor: string;
  by: 'user' | 'admin';
  ip?: string;
  requestId?: string;
}

export interface SessionAdminDeps {
  list: SessionListRepository;
  accounts: Pick<AccountRepository, 'findById'>;
  revoker: SessionRevoker;
  /** The offline GeoIP database, loaded on first use. */
  geo: () => Promise<GeoLocator>;
  /** The key SAML single logout files a session's participants under (a keyed hash of its uid). */
  idKey: string;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
}

/**
 * A user's live SSO sessions and the apps they let in offline, for the user (self-service) and for
 * administrators: listing them, and ending them everywhere at once (the session, its grants and
 * tokens, a logout token to each relying party). Sessions live in PostgreSQL only, so an end holds
 * on every node from the moment it is written.
 */
export function createSessionAdminService(deps: SessionAdminDeps) {
  const { list, revoker, audit, metrics } = deps;
  const now = () => new Date(deps.clock.now());
  const sessionKey = (uid: string) => hmac(deps.idKey, uid);

  async function clientsOf(user: User, sessions: ListedSession[]): Promise<Map<string, SessionClient[]>> {
    const names = await list.clientNames([...new Set(sessions.flatMap((s) => s.clientIds))]);
    const sps = await list.serviceProviders(
      user.id,
      sessions.map((s) => sessionKey(s.sessionUid)),
    );
    return new Map(
      sessions.map((s) => {
        const key = sessionKey(s.sessionUid);
        const oidc = s.clientIds.map((id): SessionClient => ({ type: 'oidc', client_id: id, ...(names.has(id) ? { client_name: names.get(id) } : {}) }));
        const saml = sps.filter((p) => p.sessionKey === key).map((p): SessionClient => ({ type: 'saml', entity_id: p.entityId }));
        return [s.id, [...oidc, ...saml]];
      }),
    );
  }

  async function revoked(user: User, sessionId: string, who: Revoker, opts: RevokeOptions, scope: 'one' | 'all'): Promise<void> {
    metrics.sessionRevocations.inc({ by: who.by, scope });
    await audit.record({
      type: 'session.revoked',
      outcome: 'success',
      actor: who.actor,
      subject: user.id,
      organizationId: user.organizationId,
      ip: who.ip,
      requestId: who.requestId,
      data: { session_id: sessionId, reason: `${who.by}_${scope}`, keep_app_access: opts.keepAppAccess === true },
    });
  }

  return {
    /** The user an administrator names, if the caller's organisation reaches them; otherwise the same 404 as a missing one. */
    async userFor(caller: OrgScope, userId: string): Promise<User> {
      const user = UUID.test(userId) ? await deps.accounts.findById(userId) : undefined;
      if (!user || !reaches(caller, user.organizationId)) throw notFound('no such user');
      return user;
    },

    /** The live sessions, oldest first; `currentUid` marks the one the request comes from. */
    async sessions(user: User, currentUid?: string): Promise<SessionView[]> {
      const sessions = await list.listLive(user.id, now());
      if (!sessions.length) return [];
      const [geo, clients] = await Promise.all([deps.geo(), clientsOf(user, sessions)]);
      return sessions.map((s) => ({
        id: s.id,
        device: deviceOf(s.userAgent),
        ip: s.ip,
        location: locationOf(geo, s.ip),
        created_at: s.createdAt.toISOString(),
        last_active: s.lastActiveAt.toISOString(),
        current: currentUid !== undefined && s.sessionUid === currentUid,
        acr: s.acr,
        amr: s.amr,
        clients: clients.get(s.id) ?? [],
      }));
    },

    /**
     * Ends one live session of the user. Its public id is all the caller gives; another user's id,
     * a session already ended and a malformed id are the same 404. Of concurrent ends one succeeds.
     * Returns whether it was `currentUid` (the caller's own browser is then signed out).
     */
    async revokeOne(user: User, sessionId: string, who: Revoker, opts: RevokeOptions, currentUid?: string): Promise<{ current: boolean }> {
      const [session] = UUID.test(sessionId) ? await list.endLive(user.id, now(), sessionId) : [];
      if (!session) throw notFound('no such session');
      await revoker.revokeSession(session.sessionUid, opts);
      await revoked(user, session.id, who, opts, 'one');
      return { current: session.sessionUid === currentUid };
    },

    /** Ends every session of the user, and the refresh tokens that outlived theirs (unless kept as app access); returns how many ended. */
    async revokeAll(user: User, who: Revoker, opts: RevokeOptions): Promise<number> {
      const listed = await list.endLive(user.id, now());
      const ended = await revoker.endOtherSessions(user.id, undefined, opts);
      for (const s of listed) await revoked(user, s.id, who, opts, 'all');
      return ended;
    },

    /** The apps the user let in with offline access, one entry per client, newest grant first. */
    async appAccess(user: User) {
      const grants = (await revoker.offlineGrantsOf(user.id)).sort((a, b) => b.createdAt - a.createdAt);
      const byClient = new Map<string, (typeof grants)[number]>();
      for (const g of grants) if (!byClient.has(g.clientId)) byClient.set(g.clientId, g);
      const names = await list.clientNames([...byClient.keys()]);
      return [...byClient.values()].map((g) => ({
        client_id: g.clientId,
        client_name: names.get(g.clientId) ?? null,
        scopes: g.scope.split(' ').filter(Boolean),
        created_at: new Date(g.createdAt * 1000).toISOString(),
      }));
    },

    /** Withdraws a client's offline access: its grants of the user and every token under them. 404 when the user gave it none. */
    async revokeAppAccess(user: User, clientId: string, who: Revoker): Promise<void> {
      const grants = (await revoker.offlineGrantsOf(user.id)).filter((g) => g.clientId === clientId);
      if (!grants.length) throw notFound('no app access for this client');
      await revoker.revokeGrants(grants.map((g) => g.grantId));
      await audit.record({
        type: 'user.app_access.revoked',
        outcome: 'success',
        actor: who.actor,
        subject: user.id,
        organizationId: user.organizationId,
        ip: who.ip,
        requestId: who.requestId,
        clientId,
        data: { client_id: clientId, grants: grants.length },
      });
    },
  };
}

export type SessionAdminService = ReturnType<typeof createSessionAdminService>;
