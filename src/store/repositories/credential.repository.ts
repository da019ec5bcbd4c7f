import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { CredentialRow } from '../database.js';
import { activeCredentials, type SigningInUser } from './account.repository.js';
import { lockUntil } from './lock-period.js';

/** A second-factor check reserved against the lockout: the lock it set on reaching the threshold, if any. */
export interface MfaAttempt {
  lockedUntil: Date | null;
  lockCount: number;
}

// Only a lock this reservation set lies in the future: any earlier one had run out.
const attemptOf = (row: { mfaLockedUntil: Date | null; mfaLockCount: number }, now: number): MfaAttempt => ({
  lockedUntil: row.mfaLockedUntil && row.mfaLockedUntil.getTime() > now ? row.mfaLockedUntil : null,
  lockCount: row.mfaLockCount,
});

export function createCredentialRepository(db: Db) {
  const base = () => db.selectFrom('credentials').selectAll();
  const reserve = (userId: string, threshold: number, lockMinutes: readonly number[], now: number) => {
    const at = new Date(now);
    const locks = sql<boolean>`mfa_failed_attempts + 1 >= ${threshold}`;
    return db
      .updateTable('users')
      .set({
        mfaFailedAttempts: sql`case when ${locks} then 0 else mfa_failed_attempts + 1 end`,
        mfaLockedUntil: sql`case when ${locks} then ${lockUntil(at, lockMinutes, sql<number>`mfa_lock_count`)} else mfa_locked_until end`,
        mfaLockCount: sql`case when ${locks} then mfa_lock_count + 1 else mfa_lock_count end`,
      })
      .where('id', '=', userId)
      .where((eb) => eb.or([eb('mfaLockedUntil', 'is', null), eb('mfaLockedUntil', '<=', at)]));
  };
  return {
    // These two run in every MFA decision and challenge: plain templates, cheaper than the builder.
    /** Confirmed credentials of a kind (unconfirmed enrolments and used backup codes excluded). */
    listActive: async (userId: string, kind: string): Promise<CredentialRow[]> =>
      (
        await sql<CredentialRow>`select * from credentials
        where user_id = ${userId} and kind = ${kind} and confirmed_at is not null and used_at is null`.execute(db)
      ).rows,
    async countActiveByKind(userId: string): Promise<Record<string, number>> {
      const { rows } = await sql<{ kind: string; n: number }>`select kind, count(*)::int as n from credentials
        where user_id = ${userId} and confirmed_at is not null and used_at is null group by kind`.execute(db);
      return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
    },
    findPending: (userId: string, kind: string): Promise<CredentialRow | undefined> =>
      base().where('userId', '=', userId).where('kind', '=', kind).where('confirmedAt', 'is', null).orderBy('createdAt', 'desc').executeTakeFirst(),
    async insert(c: {
      userId: string;
      kind: string;
      name?: string | null;
      secretSealed?: string | null;
      secretHash?: string | null;
      confirmed: boolean;
    }): Promise<CredentialRow> {
      return db
        .insertInto('credentials')
        .values({
          userId: c.userId,
          kind: c.kind,
          name: c.name ?? null,
          secretSealed: c.secretSealed ?? null,
          secretHash: c.secretHash ?? null,
          confirmedAt: c.confirmed ? new Date() : null,
          lastUsedAt: null,
          usedAt: null,
          lastTotpStep: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    /** Replaces every credential of this kind by `rows`, in one transaction (enrolment confirm, backup-code regeneration). */
    async replaceKind(userId: string, kind: string, keepId: string | null, rows: { secretHash: string }[] = []): Promise<void> {
      await db.transaction().execute(async (trx) => {
        let del = trx.deleteFrom('credentials').where('userId', '=', userId).where('kind', '=', kind);
        if (keepId) del = del.where('id', '!=', keepId);
        await del.execute();
        if (keepId) await trx.updateTable('credentials').set({ confirmedAt: new Date(), updatedAt: new Date() }).where('id', '=', keepId).execute();
        if (rows.length) {
          await trx
            .insertInto('credentials')
            .values(
              rows.map((r) => ({
                userId,
                kind,
                secretHash: r.secretHash,
                confirmedAt: new Date(),
                name: null,
                secretSealed: null,
                lastUsedAt: null,
                usedAt: null,
                lastTotpStep: null,
              })),
            )
            .execute();
        }
      });
    },
    /** Every credential of a kind, pending ones included, oldest first. */
    listAll: (userId: string, kind: string): Promise<CredentialRow[]> =>
      base().where('userId', '=', userId).where('kind', '=', kind).orderBy('createdAt').execute(),
    /** One credential of the user's, confirmed or not. */
    findOwned: (userId: string, id: string): Promise<CredentialRow | undefined> => base().where('userId', '=', userId).where('id', '=', id).executeTakeFirst(),
    /**
     * Marks a pending credential confirmed; false when it is not (or no longer) the user's pending
     * one, or when the same destination was confirmed meanwhile (its unique index).
     */
    async confirm(userId: string, id: string): Promise<boolean> {
      const row = await db
        .updateTable('credentials')
        .set({ confirmedAt: new Date(), updatedAt: new Date() })
        .where('id', '=', id)
        .where('userId', '=', userId)
        .where('confirmedAt', 'is', null)
        .returning('id')
        .executeTakeFirst()
        .catch((err: unknown) => {
          if ((err as { code?: unknown }).code === '23505') return undefined;
          throw err;
        });
      return row !== undefined;
    },
    /** Removes one credential of the user's; false when there was none. */
    async deleteOwned(userId: string, id: string): Promise<boolean> {
      const res = await db.deleteFrom('credentials').where('userId', '=', userId).where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    /** The user's credentials of a kind with this keyed hash (the same phone number or address twice). */
    findByHash: (userId: string, kind: string, secretHash: string): Promise<CredentialRow[]> =>
      base().where('userId', '=', userId).where('kind', '=', kind).where('secretHash', '=', secretHash).execute(),
    async deleteKindPending(userId: string, kind: string): Promise<void> {
      await db.deleteFrom('credentials').where('userId', '=', userId).where('kind', '=', kind).where('confirmedAt', 'is', null).execute();
    },
    async deleteKind(userId: string, kind: string): Promise<number> {
      const res = await db.deleteFrom('credentials').where('userId', '=', userId).where('kind', '=', kind).executeTakeFirst();
      return Number(res.numDeletedRows);
    },
    /**
     * Records a TOTP step as used if it is newer than the last one: compare-and-set in one
     * statement, so of concurrent submissions of one code exactly one wins (RFC 6238 §5.2).
     */
    async advanceTotpStep(id: string, step: number): Promise<boolean> {
      const row = await db
        .updateTable('credentials')
        .set({ lastTotpStep: step, lastUsedAt: new Date() })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('lastTotpStep', 'is', null), eb('lastTotpStep', '<', step)]))
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    /** Marks a backup code used; false when another request used it first. */
    async consume(id: string): Promise<boolean> {
      const row = await db
        .updateTable('credentials')
        .set({ usedAt: new Date(), lastUsedAt: new Date() })
        .where('id', '=', id)
        .where('usedAt', 'is', null)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    /**
     * Reserves one second-factor check on the account before the code is evaluated, counted as a
     * failure in advance in one conditional statement, so that codes sent at once over many
     * challenges (or through the platform API) cannot all be evaluated against a stale count.
     * Refused (undefined) while the factor is locked. The reservation that reaches the threshold
     * locks at once, for a period that grows with each lock, and the count starts again.
     * Unlike password checks, codes need no waiting for the outcome of those in flight: each code
     * is good once, so many right ones at once do not happen, and counting every check in
     * advance refuses no legitimate user.
     */
    async reserveMfaAttempt(userId: string, threshold: number, lockMinutes: readonly number[], now: number): Promise<MfaAttempt | undefined> {
      const row = await reserve(userId, threshold, lockMinutes, now).returning(['mfaLockedUntil', 'mfaLockCount']).executeTakeFirst();
      return row && attemptOf(row, now);
    },
    /**
     * The same reservation inside a login, on an active account only, returning the user as the
     * MFA decision reads it: the step's one read of the account. Undefined when the factor is
     * locked or the account is no longer active.
     */
    async reserveMfaAttemptSigningIn(
      userId: string,
      threshold: number,
      lockMinutes: readonly number[],
      now: number,
    ): Promise<{ attempt: MfaAttempt; user: SigningInUser } | undefined> {
      const row = await reserve(userId, threshold, lockMinutes, now)
        .where('status', '=', 'active')
        .returningAll()
        .returning(activeCredentials.as('activeCredentials'))
        .executeTakeFirst();
      return row && { attempt: attemptOf(row, now), user: row };
    },
    /**
     * A right code: the counters start again, unless a concurrent failure locked the factor while
     * this code was evaluated (false: the code does not count). A lock this attempt set itself, as
     * the one reaching the threshold, is its own and goes too.
     */
    async resetMfaFailures(userId: string, attempt: MfaAttempt, now: number): Promise<boolean> {
      const at = new Date(now);
      const own = attempt.lockedUntil;
      const row = await db
        .updateTable('users')
        .set({ mfaFailedAttempts: 0, mfaLockCount: 0, mfaLockedUntil: null })
        .where('id', '=', userId)
        .where((eb) =>
          eb.or([
            eb('mfaLockedUntil', 'is', null),
            eb('mfaLockedUntil', '<=', at),
            ...(own ? [eb.and([eb('mfaLockedUntil', '=', own), eb('mfaLockCount', '=', attempt.lockCount)])] : []),
          ]),
        )
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

export type CredentialRepository = ReturnType<typeof createCredentialRepository>;
