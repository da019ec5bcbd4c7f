import { sql } from 'kysely';
import type { Db } from '../db.js';

/** SSO sessions as the provider stores them (always in PostgreSQL), seen per account. */
export function createSessionRepository(db: Db) {
  return {
    /** Ends every session of the account but `keepUid` (the one making the change); returns how many. */
    async endAllOf(accountId: string, keepUid?: string): Promise<number> {
      const { rows } = await sql<{ id: string }>`delete from oidc_payloads
        where model = 'Session' and payload->>'accountId' = ${accountId} and uid is distinct from ${keepUid ?? null}
        returning id`.execute(db);
      return rows.length;
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
