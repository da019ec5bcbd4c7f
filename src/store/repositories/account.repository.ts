import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { NewUser, User, UserUpdate } from '../database.js';

/** Usernames compare case-insensitively after NFKC, so "Ａlice" and "alice" are one account. */
export const normalizeUsername = (u: string) => u.normalize('NFKC').trim();

/** A username or e-mail address as sign-in compares it. */
export const loginKey = (u: string) => normalizeUsername(u).toLowerCase();

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAccountRepository(db: Db) {
  return {
    async insert(user: NewUser): Promise<User> {
      return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
    },
    // Read on every token request (is the account still active?): a plain template, cheaper than the builder.
    findById: async (id: string): Promise<User | undefined> => (UUID.test(id)
      ? (await sql<User>`select * from users where id = ${id}`.execute(db)).rows[0] : undefined),
    findByExternalId: (externalId: string) =>
      db.selectFrom('users').selectAll().where('externalId', '=', externalId).executeTakeFirst(),
    /** Username or e-mail, case-insensitive. */
    findByLogin(login: string) {
      const l = loginKey(login);
      return db.selectFrom('users').selectAll()
        .where((eb) => eb.or([eb(sql`lower(username)`, '=', l), eb(sql`lower(email)`, '=', l)]))
        .orderBy(sql`lower(username) = ${l}`, 'desc').executeTakeFirst();
    },
    async update(id: string, patch: UserUpdate): Promise<User | undefined> {
      return db.updateTable('users').set({ ...patch, updatedAt: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();
    },
    /** Counts one failed password; locks for `lockFor` once the count reaches the threshold. Returns the new count. */
    async recordPasswordFailure(id: string, threshold: number, lockMinutes: readonly number[], now: number): Promise<number> {
      const row = await db.updateTable('users').set({ failedAttempts: sql`failed_attempts + 1` }).where('id', '=', id)
        .returning('failedAttempts').executeTakeFirst();
      const count = row?.failedAttempts ?? 0;
      if (count >= threshold) {
        const step = Math.min(Math.floor((count - threshold) / threshold), lockMinutes.length - 1);
        const minutes = lockMinutes[step]!;
        await db.updateTable('users').set({ lockedUntil: new Date(now + minutes * 60_000) }).where('id', '=', id).execute();
      }
      return count;
    },
    async recordLogin(id: string): Promise<void> {
      await db.updateTable('users').set({ failedAttempts: 0, lockedUntil: null, lastLoginAt: new Date() }).where('id', '=', id).execute();
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
