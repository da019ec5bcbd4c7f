import type { Db } from '../db.js';
import { withKeySetLock } from './key-set-lock.js';
import type { SigningKeyRow } from '../database.js';

function signingKeyQueries(db: Db) {
  return {
    /** Keys still published, newest first (the first one signs). */
    listLive: (use: 'sig' | 'cookie'): Promise<SigningKeyRow[]> =>
      db
        .selectFrom('signingKeys')
        .selectAll()
        .where('use', '=', use)
        .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', new Date())]))
        .orderBy('createdAt', 'desc')
        .orderBy('kid', 'desc')
        .execute(),
    async insert(k: { kid: string; use: 'sig' | 'cookie'; alg: string; publicJwk: Record<string, unknown> | null; privateSealed: string }) {
      await db
        .insertInto('signingKeys')
        .values({ ...k, publicJwk: k.publicJwk ? JSON.stringify(k.publicJwk) : null })
        .execute();
    },
    /** Schedules every other live key of this use for removal once its tokens have expired. */
    async retireAllExcept(use: 'sig' | 'cookie', kid: string, at: Date): Promise<void> {
      await db.updateTable('signingKeys').set({ expiresAt: at }).where('use', '=', use).where('kid', '!=', kid).where('expiresAt', 'is', null).execute();
    },
    /** Fingerprint of the live key set, so nodes cheaply notice a rotation or a retirement. */
    async version(): Promise<string> {
      const rows = await db
        .selectFrom('signingKeys')
        .select('kid')
        .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', new Date())]))
        .orderBy('kid')
        .execute();
      return rows.map((r) => r.kid).join(',');
    },
  };
}

/** The key set's queries; `exclusive` runs them holding the key-set lock. */
export const createSigningKeyRepository = (db: Db) => withKeySetLock(db, 7426001, signingKeyQueries);

export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>;
