import { sql } from 'kysely';
import type { Db } from '../db.js';

/** A live session as its lists show it: the record, and the relying parties its provider session holds grants for. */
export interface ListedSession {
  id: string;
  sessionUid: string;
  createdAt: Date;
  lastActiveAt: Date;
  ip: string;
  userAgent: string;
  acr: string | null;
  amr: string[];
  /** The OIDC clients the session has authorised (the provider Session's `authorizations` keys). */
  clientIds: string[];
}

/** An SP a session signed into, by the keyed hash of the session's uid (as SAML single logout stores it). */
export interface SessionServiceProvider {
  sessionKey: string;
  entityId: string;
}

/**
 * The account's live SSO sessions, read for the session lists and their revocation. Live as the
 * session records define it: the record's absolute end and idle limit not passed, and the
 * provider's own Session (of the same account) still there.
 */
export function createSessionListRepository(db: Db) {
  const liveRecord = (userId: string, now: Date) =>
    sql`r.user_id = ${userId} and r.ends_at > ${now} and r.last_active_at + make_interval(secs => r.idle_seconds) > ${now}`;

  async function live(userId: string, now: Date, id?: string): Promise<ListedSession[]> {
    const { rows } = await sql<ListedSession>`select r.id, r.session_uid, r.created_at, r.last_active_at, r.ip, r.user_agent, r.acr, r.amr,
        array(select jsonb_object_keys(coalesce(p.payload->'authorizations', '{}'::jsonb))) as client_ids
      from session_records r
      join lateral (select payload from oidc_payloads where model = 'Session' and uid = r.session_uid
        and payload->>'accountId' = r.user_id::text and (expires_at is null or expires_at > ${now}) limit 1) p on true
      where ${liveRecord(userId, now)} ${id === undefined ? sql`` : sql`and r.id = ${id}`}
      order by r.created_at, r.id`.execute(db);
    return rows;
  }

  return {
    /** Oldest first. */
    listLive: (userId: string, now: Date) => live(userId, now),
    /**
     * Marks live sessions of the account ended now (one by its public id, or all), in one statement:
     * of concurrent ends of a session exactly one gets it back, so it is ended and audited once.
     * Returns the sessions this call ended; their provider sessions are for the caller to end.
     */
    async endLive(userId: string, now: Date, id?: string): Promise<Pick<ListedSession, 'id' | 'sessionUid'>[]> {
      const { rows } = await sql<Pick<ListedSession, 'id' | 'sessionUid'>>`update session_records r set ends_at = ${now}
        where ${liveRecord(userId, now)} ${id === undefined ? sql`` : sql`and r.id = ${id}`}
          and exists (select 1 from oidc_payloads p where p.model = 'Session' and p.uid = r.session_uid
            and p.payload->>'accountId' = r.user_id::text and (p.expires_at is null or p.expires_at > ${now}))
        returning r.id, r.session_uid`.execute(db);
      return rows;
    },
    /** The client names of those that have one. */
    async clientNames(clientIds: readonly string[]): Promise<Map<string, string>> {
      if (!clientIds.length) return new Map();
      const rows = await db
        .selectFrom('clients')
        .select(['clientId', sql<string | null>`metadata->>'client_name'`.as('name')])
        .where('clientId', 'in', [...clientIds])
        .execute();
      return new Map(rows.flatMap((r) => (r.name ? [[r.clientId, r.name] as const] : [])));
    },
    /** The service providers of the given sessions (keyed hashes), of this account only. */
    serviceProviders(userId: string, sessionKeys: readonly string[]): Promise<SessionServiceProvider[]> {
      if (!sessionKeys.length) return Promise.resolve([]);
      return db
        .selectFrom('samlSessionParticipants as p')
        .innerJoin('samlServiceProviders as sp', 'sp.id', 'p.spId')
        .select(['p.sessionKey', 'sp.entityId'])
        .where('p.accountId', '=', userId)
        .where('p.sessionKey', 'in', [...sessionKeys])
        .orderBy('p.createdAt')
        .execute();
    },
  };
}

export type SessionListRepository = ReturnType<typeof createSessionListRepository>;
