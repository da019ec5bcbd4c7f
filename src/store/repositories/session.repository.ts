import { sql } from 'kysely';
import type { Db } from '../db.js';

/** SSO sessions and refresh tokens as the provider stores them (always in PostgreSQL), seen per account. */
export function createSessionRepository(db: Db) {
  return {
    /** The uids of every session of the account but `keepUid` (the one making a change). */
    async otherUidsOf(accountId: string, keepUid?: string): Promise<string[]> {
      const { rows } = await sql<{ uid: string }>`select payload->>'uid' as uid from oidc_payloads
        where model = 'Session' and payload->>'accountId' = ${accountId} and payload->>'uid' is distinct from ${keepUid ?? null}`.execute(db);
      return rows.map((r) => r.uid);
    },
    /** The grants under which the account holds refresh tokens, whether or not a live session still names them. */
    async refreshGrantIdsOf(accountId: string): Promise<string[]> {
      const { rows } = await sql<{ grantId: string }>`select distinct grant_id as "grantId" from oidc_payloads
        where model = 'RefreshToken' and payload->>'accountId' = ${accountId} and grant_id is not null`.execute(db);
      return rows.map((r) => r.grantId);
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
