import { sql } from 'kysely';
import type { Db } from '../db.js';
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

type SigningKeyQueries = ReturnType<typeof signingKeyQueries>;

export function createSigningKeyRepository(db: Db) {
  return {
    ...signingKeyQueries(db),
    /**
     * Runs `fn` in one transaction that holds the key-set lock, so nodes that start or rotate at the
     * same moment see each other's keys instead of each adding their own.
     */
    exclusive<T>(fn: (keys: SigningKeyQueries) => Promise<T>): Promise<T> {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(7426001)`.execute(trx);
        return fn(signingKeyQueries(trx));
      });
    },
  };
}

export type SigningKeyRepository = ReturnType<typeof createSigningKeyRepository>;
