import type Provider from 'oidc-provider';
import type { Client, Session } from 'oidc-provider';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { SessionRecordRepository } from '../store/repositories/session-record.repository.js';
import type { SessionRepository } from '../store/repositories/session.repository.js';
import type { ProviderHolder } from './provider-holder.js';

export interface SessionTerminatorDeps {
  providers: ProviderHolder;
  sessions: Pick<SessionRepository, 'otherUidsOf' | 'refreshGrantIdsOf'>;
  /** The IdP's record of each session goes with it. */
  records: Pick<SessionRecordRepository, 'remove'>;
  metrics: Pick<Metrics, 'sessionEnds'>;
  logger: Logger;
}

/** What a revocation may leave standing: with `keepAppAccess`, the grants the user gave offline access (RFC 6749 refresh tokens an app keeps). */
export interface RevokeOptions {
  keepAppAccess?: boolean;
  /** Why the sessions end, as the metric counts it. */
  reason?: string;
}

/** A grant the user gave offline access, as the user's list of apps shows it. */
export interface OfflineGrant {
  grantId: string;
  clientId: string;
  scope: string;
  /** Epoch seconds. */
  createdAt: number;
}

const offline = (grant: { openid?: { scope?: string } } | undefined) => (grant?.openid?.scope ?? '').split(' ').includes('offline_access');

/** The provider's own logout-token sender (it signs with the current keys); missing from its typings. */
type BackchannelClient = Client & { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };

/**
 * Ends SSO sessions as a full logout at the provider would: the session, every grant made through
 * it with the tokens issued under them (refresh tokens included, offline or not), and a logout
 * token to each relying party that asked for one (OpenID Connect Back-Channel Logout 1.0).
 */
export function createSessionTerminator(deps: SessionTerminatorDeps) {
  const { logger } = deps;

  async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
  }

  /** An RP that cannot be reached must not undo or block the logout: it is told on a best-effort basis. */
  async function notify(provider: Provider, accountId: string, session: Session, clientId: string): Promise<void> {
    try {
      const client = (await provider.Client.find(clientId)) as BackchannelClient | undefined;
      if (!client?.backchannelLogoutUri) return;
      await client.backchannelLogout(accountId, session.sidFor(clientId));
    } catch (err) {
      logger.warn({ err, clientId }, 'back-channel logout failed');
    }
  }

  /** The grants to revoke of those given: all, or with `keepAppAccess` those without offline access. */
  async function revocable(provider: Provider, grantIds: readonly string[], opts: RevokeOptions): Promise<string[]> {
    if (!opts.keepAppAccess) return [...grantIds];
    const kept = await Promise.all(grantIds.map(async (id) => offline(await provider.Grant.find(id))));
    return grantIds.filter((_, i) => !kept[i]);
  }

  async function end(provider: Provider, uid: string, reason: string, opts: RevokeOptions = {}): Promise<boolean> {
    const session = await provider.Session.findByUid(uid);
    const accountId = session?.accountId;
    if (!session || !accountId) return false;
    // The session goes first, so that no new code or token can be issued from it meanwhile.
    await session.destroy();
    await deps.records.remove(uid);
    deps.metrics.sessionEnds.inc({ reason });
    const authorizations = Object.entries(session.authorizations ?? {});
    const grantIds = authorizations.flatMap(([, { grantId }]) => (grantId ? [grantId] : []));
    await Promise.all((await revocable(provider, grantIds, opts)).map((grantId) => revokeGrant(provider, grantId)));
    await Promise.all(authorizations.map(([clientId]) => notify(provider, accountId, session, clientId)));
    return true;
  }

  return {
    /** Ends one session (a logout at one relying party, or of one protocol, or a limit); false when it was already gone. */
    endSession: (uid: string, reason = 'logout'): Promise<boolean> => end(deps.providers.current, uid, reason),

    /** Ends one session on request (a user or an administrator), optionally keeping its offline grants; false when it was already gone. */
    revokeSession: (uid: string, opts: RevokeOptions): Promise<boolean> => end(deps.providers.current, uid, opts.reason ?? 'revoked', opts),

    /** Revokes grants (their codes, access and refresh tokens): an app's offline access withdrawn. */
    async revokeGrants(grantIds: readonly string[]): Promise<void> {
      const provider = deps.providers.current;
      await Promise.all(grantIds.map((grantId) => revokeGrant(provider, grantId)));
    },

    /** The account's grants that include offline access (their refresh tokens outlive any session): the apps the user let in. */
    async offlineGrantsOf(accountId: string): Promise<OfflineGrant[]> {
      const provider = deps.providers.current;
      const ids = await deps.sessions.refreshGrantIdsOf(accountId);
      const grants = await Promise.all(ids.map(async (grantId) => ({ grantId, grant: await provider.Grant.find(grantId) })));
      return grants.flatMap(({ grantId, grant }) =>
        grant?.accountId === accountId && grant.clientId && offline(grant)
          ? [{ grantId, clientId: grant.clientId, scope: grant.openid?.scope ?? '', createdAt: grant.iat ?? 0 }]
          : [],
      );
    },

    /** Ends every session of the account but `keepSessionUid`; returns how many ended. */
    async endOtherSessions(accountId: string, keepSessionUid?: string, opts: RevokeOptions = {}): Promise<number> {
      // The provider in charge now: its keys sign the logout tokens.
      const provider = deps.providers.current;
      const uids = await deps.sessions.otherUidsOf(accountId, keepSessionUid);
      const ended = await Promise.all(uids.map((uid) => end(provider, uid, opts.reason ?? 'revoked', opts)));
      // Refresh tokens outlive their session (offline access, or a session that already ended): those
      // of any grant but the keeping session's are revoked too, or they would keep the old factors' access.
      const kept = keepSessionUid ? await provider.Session.findByUid(keepSessionUid) : undefined;
      const keep = new Set(Object.values(kept?.authorizations ?? {}).map((a) => a.grantId));
      const orphans = (await deps.sessions.refreshGrantIdsOf(accountId)).filter((g) => !keep.has(g));
      await Promise.all((await revocable(provider, orphans, opts)).map((grantId) => revokeGrant(provider, grantId)));
      return ended.filter(Boolean).length;
    },
  };
}
