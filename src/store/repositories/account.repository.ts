import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../db.js';
import type { Database, NewUser, User, UserUpdate } from '../database.js';
import { lockUntil } from './lock-period.js';

/** A wrong password, counted: the failures so far and, when it locked the account, until when. */
export interface PasswordFailure {
  failures: number;
  lockedUntil: Date | null;
}

/** A reserved check not settled after this long was abandoned (a stopped process) and no longer holds a place. */
const ABANDONED_CHECK_MS = 30_000;

/** Usernames compare case-insensitively after NFKC, so "Ａlice" and "alice" are one account. */
export const normalizeUsername = (u: string) => u.normalize('NFKC').trim();

/** A username or e-mail address as sign-in compares it. */
export const loginKey = (u: string) => normalizeUsername(u).toLowerCase();

/** What narrows the admin list of users: names exact or by prefix (case-insensitive), and the organisation. */
export interface UserFilter {
  organizationId?: string;
  status?: User['status'];
  username?: NameMatch;
  email?: NameMatch;
  externalId?: NameMatch;
  /** Any of the three names. */
  any?: NameMatch;
}

/** A name compared case-insensitively: the whole of it, or its beginning. */
export interface NameMatch {
  value: string;
  prefix: boolean;
}

/** A LIKE pattern that matches `text` literally at the start. */
const startsWith = (text: string) => `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a token request needs of its user: whether the account may still be used, and its claims. */
export type AccountView = Pick<User, 'id' | 'status' | 'username' | 'email' | 'emailVerified' | 'phone' | 'phoneVerified' | 'updatedAt' | 'organizationId'>;

/** A user signing in, with how many confirmed, unused credentials of each kind they have: an MFA decision's reads in one statement. */
export type SigningInUser = User & { activeCredentials: Record<string, number> };

export const activeCredentials = sql<Record<string, number>>`(select coalesce(json_object_agg(k.kind, k.n), '{}') from (
  select kind, count(*)::int as n from credentials c where c.user_id = users.id and c.confirmed_at is not null and c.used_at is null group by kind) k)`;

export function createAccountRepository(db: Db) {
  const matches = (eb: ExpressionBuilder<Database, 'users'>, column: 'username' | 'email' | 'external_id', m: NameMatch) =>
    m.prefix ? eb(sql`lower(${sql.ref(column)})`, 'like', startsWith(m.value.toLowerCase())) : eb(sql`lower(${sql.ref(column)})`, '=', m.value.toLowerCase());

  return {
    async insert(user: NewUser): Promise<User> {
      return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
    },
    // Read on every token request (is the account still active?): a plain template, cheaper than the builder.
    findById: async (id: string): Promise<User | undefined> =>
      UUID.test(id) ? (await sql<User>`select * from users where id = ${id}`.execute(db)).rows[0] : undefined,
    findByExternalId: (externalId: string) => db.selectFrom('users').selectAll().where('externalId', '=', externalId).executeTakeFirst(),
    /** For the login steps after the password: the user and their active credentials. */
    findSigningIn: async (id: string): Promise<SigningInUser | undefined> =>
      UUID.test(id)
        ? (await sql<SigningInUser>`select *, ${activeCredentials} as active_credentials from users where id = ${id}`.execute(db)).rows[0]
        : undefined,
    /** Username or e-mail, case-insensitive; with the user's active credentials, which the MFA decision after the password reads. */
    findByLogin(login: string): Promise<SigningInUser | undefined> {
      const l = loginKey(login);
      return db
        .selectFrom('users')
        .selectAll()
        .select(activeCredentials.as('activeCredentials'))
        .where((eb) => eb.or([eb(sql`lower(username)`, '=', l), eb(sql`lower(email)`, '=', l)]))
        .orderBy(sql`lower(username) = ${l}`, 'desc')
        .executeTakeFirst();
    },
    async update(id: string, patch: UserUpdate): Promise<User | undefined> {
      return db
        .updateTable('users')
        .set({ ...patch, updatedAt: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    },
    /**
     * One page of users in id order, after the id `after`, with their active credentials of each kind:
     * a user inserted meanwhile is listed or not by where its id falls, and no user already there is
     * listed twice or skipped.
     */
    page(filter: UserFilter, after: string | undefined, limit: number): Promise<SigningInUser[]> {
      return db
        .selectFrom('users')
        .selectAll()
        .select(activeCredentials.as('activeCredentials'))
        .where((eb) => {
          const all = [];
          if (filter.organizationId) all.push(eb('organizationId', '=', filter.organizationId));
          if (filter.status) all.push(eb('status', '=', filter.status));
          if (filter.username) all.push(matches(eb, 'username', filter.username));
          if (filter.email) all.push(matches(eb, 'email', filter.email));
          if (filter.externalId) all.push(matches(eb, 'external_id', filter.externalId));
          if (filter.any) all.push(eb.or((['username', 'email', 'external_id'] as const).map((c) => matches(eb, c, filter.any!))));
          if (after) all.push(eb('id', '>', after));
          return eb.and(all);
        })
        .orderBy('id')
        .limit(limit)
        .execute();
    },
    /**
     * Removes the user: credentials, trusted devices, risk history and session records go with the
     * row (foreign keys), authentication records and SAML participations (keyed by account id) here.
     * The audit trail names users as text and keeps every event.
     */
    async remove(id: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('authnStates').where('accountId', '=', id).execute();
        await trx.deleteFrom('samlSessionParticipants').where('accountId', '=', id).execute();
        const gone = await trx.deleteFrom('users').where('id', '=', id).returning('id').executeTakeFirst();
        return gone !== undefined;
      });
    },
    /** A temporary password replaces the user's, and the password lockout (count and lock) is cleared with it. */
    setTemporaryPassword: (id: string, passwordHash: string, until: Date): Promise<User | undefined> =>
      db
        .updateTable('users')
        .set({ passwordHash, passwordTemporaryUntil: until, failedAttempts: 0, lockedUntil: null, updatedAt: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    /**
     * The user's own password replaces the temporary one they signed in with (named by its expiry):
     * only while that one is still the current one and unexpired, so concurrent changes make one.
     */
    replaceTemporaryPassword: async (id: string, temporaryUntil: Date, passwordHash: string, now: number): Promise<boolean> =>
      (await db
        .updateTable('users')
        .set({ passwordHash, passwordTemporaryUntil: null, updatedAt: new Date(now) })
        .where('id', '=', id)
        .where('passwordTemporaryUntil', '=', temporaryUntil)
        .where('passwordTemporaryUntil', '>', new Date(now))
        .returning('id')
        .executeTakeFirst()) !== undefined,
    /**
     * Reserves one password check before the slow hash comparison, in one conditional statement,
     * so that concurrent guesses queue on the row instead of all reading the same low count. The
     * checks in flight count against what is left of the budget (NIST SP 800-63B 5.2.2: no more
     * than the threshold of failed attempts): below the threshold, failures plus checks in flight
     * stay under it; past it (each further failure locks again), one check at a time.
     * `busy`: the budget is taken by checks in flight, whose outcome decides; `refused`: the
     * account is locked (for a period or by its status) or gone.
     */
    async reservePasswordCheck(id: string, threshold: number, now: number): Promise<'reserved' | 'busy' | 'refused'> {
      const at = new Date(now);
      const pending = sql<number>`(case when password_checks_at > ${new Date(now - ABANDONED_CHECK_MS)} then password_checks_pending else 0 end)`;
      const open = (eb: ExpressionBuilder<Database, 'users'>) =>
        eb.and([eb('status', '=', 'active'), eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', at)])]);
      const row = await db
        .updateTable('users')
        .set({ passwordChecksPending: sql`${pending} + 1`, passwordChecksAt: at })
        .where('id', '=', id)
        .where(open)
        .where(sql<number>`failed_attempts + ${pending}`, '<', sql<number>`greatest(${threshold}, failed_attempts + 1)`)
        .returning('id')
        .executeTakeFirst();
      if (row) return 'reserved';
      const still = await db.selectFrom('users').select('id').where('id', '=', id).where(open).executeTakeFirst();
      return still ? 'busy' : 'refused';
    },
    /**
     * Settles a reserved check that found a wrong password: counted, and the account locked once
     * the count reaches the threshold. Past it every failure is a further lock (checks then go one
     * at a time), each for the next period of `lockMinutes` (the last one repeating), so that
     * repeated lockouts step through the list until a right password clears the count.
     */
    async recordPasswordFailure(id: string, threshold: number, lockMinutes: readonly number[], now: number): Promise<PasswordFailure> {
      const at = new Date(now);
      const count = sql<number>`failed_attempts + 1`;
      const row = await db
        .updateTable('users')
        .set({
          failedAttempts: count,
          passwordChecksPending: sql`greatest(password_checks_pending - 1, 0)`,
          lockedUntil: sql<Date | null>`case when ${count} >= ${threshold}
            then ${lockUntil(at, lockMinutes, sql<number>`${count} - ${threshold}`)} else locked_until end`,
        })
        .where('id', '=', id)
        .returning(['failedAttempts', 'lockedUntil'])
        .executeTakeFirst();
      const failures = row?.failedAttempts ?? 0;
      return { failures, lockedUntil: failures >= threshold ? (row?.lockedUntil ?? null) : null };
    },
    /**
     * Settles a reserved check that found the right password: the counter and an expired lock
     * go, unless a concurrent failure locked the account (or an administrator did) while this
     * password was being compared. False then: the login is refused, the lock stays. A password
     * confirmed by a signed-in user (`signIn: false`) settles the check without being a login.
     */
    async recordLogin(id: string, now: number, opts: { signIn: boolean } = { signIn: true }): Promise<boolean> {
      const at = new Date(now);
      const open = sql<boolean>`(status = 'active' and (locked_until is null or locked_until <= ${at}))`;
      const row = await db
        .updateTable('users')
        .set({
          passwordChecksPending: sql`greatest(password_checks_pending - 1, 0)`,
          failedAttempts: sql`case when ${open} then 0 else failed_attempts end`,
          lockedUntil: sql`case when ${open} then null else locked_until end`,
          lastLoginAt: opts.signIn ? sql`case when ${open} then ${at}::timestamptz else last_login_at end` : sql`last_login_at`,
        })
        .where('id', '=', id)
        .returning(sql<boolean>`status = 'active' and locked_until is null`.as('signedIn'))
        .executeTakeFirst();
      return row?.signedIn === true;
    },
    /** The user's new password replaces exactly the one just confirmed (a compare-and-set), so of concurrent changes one wins. */
    /** Replaces exactly the password that was confirmed (a chosen password also ends a pending temporary one). */
    async changePassword(id: string, expectedHash: string, passwordHash: string): Promise<boolean> {
      const row = await db
        .updateTable('users')
        .set({ passwordHash, passwordTemporaryUntil: null, updatedAt: new Date() })
        .where('id', '=', id)
        .where('passwordHash', '=', expectedHash)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
