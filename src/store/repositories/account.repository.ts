import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { NewUser, User, UserUpdate } from '../database.js';
import { lockUntil } from './lock-period.js';

/** A password check reserved against the lockout: its place in the count, and the lock it set on reaching the threshold. */
export interface PasswordAttempt { failures: number; lockedUntil: Date | null }

/** Usernames compare case-insensitively after NFKC, so "Ａlice" and "alice" are one account. */
export const normalizeUsername = (u: string) => u.normalize('NFKC').trim();

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
      const l = normalizeUsername(login).toLowerCase();
      return db.selectFrom('users').selectAll()
        .where((eb) => eb.or([eb(sql`lower(username)`, '=', l), eb(sql`lower(email)`, '=', l)]))
        .orderBy(sql`lower(username) = ${l}`, 'desc').executeTakeFirst();
    },
    async update(id: string, patch: UserUpdate): Promise<User | undefined> {
      return db.updateTable('users').set({ ...patch, updatedAt: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();
    },
    /**
     * Reserves one password check before the slow hash comparison: the attempt is counted as a
     * failure in advance, in one conditional statement, so concurrent guesses queue on the row and
     * none of them acts on a stale count (NIST SP 800-63B 5.2.2: at most the threshold of
     * consecutive failed attempts). Refused (undefined) while the account is locked, for a period
     * or by its status. The reservation that reaches the threshold locks at once, so no further
     * guess is checked while the earlier ones are still being compared; past the threshold each
     * one locks again, for a period that grows every `threshold` failures.
     */
    async reservePasswordAttempt(id: string, threshold: number, lockMinutes: readonly number[], now: number): Promise<PasswordAttempt | undefined> {
      const at = new Date(now);
      const count = sql<number>`failed_attempts + 1`;
      const row = await db.updateTable('users')
        .set({
          failedAttempts: count,
          lockedUntil: sql<Date | null>`case when ${count} >= ${threshold}
            then ${lockUntil(at, lockMinutes, sql<number>`(${count} - ${threshold}) / ${threshold}`)} else locked_until end`,
        })
        .where('id', '=', id).where('status', '=', 'active')
        .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at)]))
        .returning(['failedAttempts', 'lockedUntil']).executeTakeFirst();
      if (!row) return undefined;
      // Only a lock this reservation set lies in the future: any earlier one had run out.
      return { failures: row.failedAttempts, lockedUntil: row.lockedUntil && row.lockedUntil.getTime() > now ? row.lockedUntil : null };
    },
    /**
     * A right password clears the counter, unless a concurrent guess locked the account while this
     * one was being compared (false: the login is refused). The lock this attempt set itself, as
     * the one reaching the threshold, is no one else's and goes too.
     */
    async recordLogin(id: string, attempt: PasswordAttempt, now: number): Promise<boolean> {
      const at = new Date(now);
      const own = attempt.lockedUntil;
      const row = await db.updateTable('users').set({ failedAttempts: 0, lockedUntil: null, lastLoginAt: at })
        .where('id', '=', id).where('status', '=', 'active')
        .where((eb) => eb.or([
          eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at),
          ...(own ? [eb.and([eb('lockedUntil', '=', own), eb('failedAttempts', '=', attempt.failures)])] : []),
        ]))
        .returning('id').executeTakeFirst();
      return row !== undefined;
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
