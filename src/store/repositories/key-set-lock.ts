import { sql } from 'kysely';
import type { Db } from '../db.js';

/**
 * A key set's queries, plus `exclusive`: the same queries in one transaction holding the set's
 * advisory lock, so nodes that start or rotate at the same moment see each other's keys instead of
 * each adding their own.
 */
export function withKeySetLock<Q>(db: Db, lockId: number, queries: (db: Db) => Q) {
  return {
    ...queries(db),
    exclusive<T>(fn: (keys: Q) => Promise<T>): Promise<T> {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(lockId)})`.execute(trx);
        return fn(queries(trx));
      });
    },
  };
}
