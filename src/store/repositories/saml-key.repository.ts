import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { SamlSigningKeyRow } from '../database.js';

function samlKeyQueries(db: Db) {
  return {
    /** Keys whose certificate is still published, newest first (the first one signs). */
    listLive: (): Promise<SamlSigningKeyRow[]> =>
      db
        .selectFrom('samlSigningKeys')
        .selectAll()
        .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', new Date())]))
        .orderBy('createdAt', 'desc')
        .orderBy('id', 'desc')
        .execute(),
    async insert(k: { id: string; certificate: string; privateSealed: string }): Promise<void> {
      await db.insertInto('samlSigningKeys').values(k).execute();
    },
    /** Schedules every other live key for removal from the metadata; a key retired earlier keeps its own date. */
    async retireAllExcept(id: string, at: Date): Promise<void> {
      await db.updateTable('samlSigningKeys').set({ expiresAt: at }).where('id', '!=', id).where('expiresAt', 'is', null).execute();
    },
  };
}

type SamlKeyQueries = ReturnType<typeof samlKeyQueries>;

export function createSamlKeyRepository(db: Db) {
  return {
    ...samlKeyQueries(db),
    /** Runs `fn` holding the SAML key-set lock, so nodes starting or rotating together add one key, not one each. */
    exclusive<T>(fn: (keys: SamlKeyQueries) => Promise<T>): Promise<T> {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(7426002)`.execute(trx);
        return fn(samlKeyQueries(trx));
      });
    },
  };
}

export type SamlKeyRepository = ReturnType<typeof createSamlKeyRepository>;
