import { sql, type Insertable } from 'kysely';
import type { Db } from '../db.js';
import type { RecoveryRequestRow, RecoveryRequestsTable } from '../database.js';

export type NewRecoveryRequest = Insertable<RecoveryRequestsTable>;

/** What starts a request's waiting period: when it ends, when the enrolment window after it closes, and the owner's cancel token. */
export interface WaitStart {
  at: Date;
  readyAt: Date;
  expiresAt: Date;
  cancelTokenHash: string;
}

const OPEN = ['pending_confirmation', 'pending_approvals', 'waiting'] as const;

/**
 * Recovery requests. Every change of state is one `UPDATE … WHERE <the state it starts from>
 * RETURNING`, so of concurrent confirmations, approvals, cancellations or enrolments exactly one
 * takes effect, and a request past `expires_at` changes no more.
 */
export function createRecoveryRequestRepository(db: Db) {
  const open = (id: string, now: Date) => db.updateTable('recoveryRequests').where('id', '=', id).where('expiresAt', '>', now);

  return {
    create: (row: NewRecoveryRequest): Promise<RecoveryRequestRow> => db.insertInto('recoveryRequests').values(row).returningAll().executeTakeFirstOrThrow(),

    find: (id: string): Promise<RecoveryRequestRow | undefined> => db.selectFrom('recoveryRequests').selectAll().where('id', '=', id).executeTakeFirst(),

    /** The user's requests, newest first. */
    listForUser: (userId: string, limit: number): Promise<RecoveryRequestRow[]> =>
      db.selectFrom('recoveryRequests').selectAll().where('userId', '=', userId).orderBy('createdAt', 'desc').orderBy('id').limit(limit).execute(),

    /** Takes one of the request's tries (a code or an enrolment answer) before it is checked; false when none is left. */
    async spendAttempt(id: string, status: 'pending_confirmation' | 'waiting', max: number, now: Date): Promise<boolean> {
      const row = await open(id, now)
        .set({ attempts: sql`attempts + 1` })
        .where('status', '=', status)
        .where('attempts', '<', max)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },

    /** The sent token or code proved: the waiting period starts. The token is spent with it. */
    confirm: (id: string, tokenHash: string, wait: WaitStart): Promise<RecoveryRequestRow | undefined> =>
      open(id, wait.at)
        .set({
          status: 'waiting',
          tokenHash: null,
          attempts: 0,
          confirmedAt: wait.at,
          readyAt: wait.readyAt,
          expiresAt: wait.expiresAt,
          cancelTokenHash: wait.cancelTokenHash,
        })
        .where('status', '=', 'pending_confirmation')
        .where('tokenHash', '=', tokenHash)
        .returningAll()
        .executeTakeFirst(),

    /**
     * One contact's approval, counted once per contact; the approval that reaches the number
     * required starts the waiting period in the same statement.
     */
    approve(id: string, contactId: string, wait: WaitStart): Promise<RecoveryRequestRow | undefined> {
      const done = sql<boolean>`cardinality(approvals) + 1 >= required_approvals`;
      return open(id, wait.at)
        .set({
          approvals: sql`array_append(approvals, ${contactId}::uuid)`,
          status: sql`case when ${done} then 'waiting' else status end`,
          confirmedAt: sql`case when ${done} then ${wait.at} else confirmed_at end`,
          readyAt: sql`case when ${done} then ${wait.readyAt} else ready_at end`,
          expiresAt: sql`case when ${done} then ${wait.expiresAt} else expires_at end`,
          cancelTokenHash: sql`case when ${done} then ${wait.cancelTokenHash} else cancel_token_hash end`,
        })
        .where('status', '=', 'pending_approvals')
        .where(sql<boolean>`not (${contactId}::uuid = any(approvals))`)
        .returningAll()
        .executeTakeFirst();
    },

    /** Ends an open request; with `cancelTokenHash`, only when it matches the one the owner's notice carried. */
    cancel(id: string, by: string, now: Date, cancelTokenHash?: string): Promise<RecoveryRequestRow | undefined> {
      let q = open(id, now).set({ status: 'cancelled', cancelledAt: now, cancelledBy: by, tokenHash: null, cancelTokenHash: null }).where('status', 'in', OPEN);
      if (cancelTokenHash !== undefined) q = q.where('cancelTokenHash', '=', cancelTokenHash);
      return q.returningAll().executeTakeFirst();
    },

    /** Holds a ready request for one enrolment answer: no other answer, cancellation or enrolment runs meanwhile. */
    claim: (id: string, requestTokenHash: string, now: Date, maxAttempts: number): Promise<RecoveryRequestRow | undefined> =>
      open(id, now)
        .set({ status: 'completing', attempts: sql`attempts + 1` })
        .where('status', '=', 'waiting')
        .where('readyAt', '<=', now)
        .where('requestTokenHash', '=', requestTokenHash)
        .where('attempts', '<', maxAttempts)
        .returningAll()
        .executeTakeFirst(),

    /** A wrong answer gives the request back. */
    async release(id: string): Promise<void> {
      await db.updateTable('recoveryRequests').set({ status: 'waiting' }).where('id', '=', id).where('status', '=', 'completing').execute();
    },

    /** The one enrolment is made: the request is used up. */
    complete: (id: string, method: string, now: Date): Promise<RecoveryRequestRow | undefined> =>
      db
        .updateTable('recoveryRequests')
        .set({ status: 'completed', completedAt: now, enrolledMethod: method, cancelTokenHash: null })
        .where('id', '=', id)
        .where('status', '=', 'completing')
        .returningAll()
        .executeTakeFirst(),
  };
}

export type RecoveryRequestRepository = ReturnType<typeof createRecoveryRequestRepository>;
