import type { Db } from '../db.js';
import { withKeySetLock } from './key-set-lock.js';
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

/** The key set's queries; `exclusive` runs them holding the key-set lock. */
export const createSamlKeyRepository = (db: Db) => withKeySetLock(db, 7426002, samlKeyQueries);

export type SamlKeyRepository = ReturnType<typeof createSamlKeyRepository>;
