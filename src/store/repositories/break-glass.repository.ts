import { sql, type ExpressionBuilder, type Insertable } from 'kysely';
import type { Db } from '../db.js';
import type { BreakGlassGrantRow, BreakGlassGrantsTable, Database } from '../database.js';
import { createAuditEventRepository, type AuditRecord } from './audit-event.repository.js';

/** What a request records; the decision, revocation and review columns are set by their own steps. */
export type NewBreakGlassGrant = Pick<
  Insertable<BreakGlassGrantsTable>,
  'userId' | 'organizationId' | 'reason' | 'durationSeconds' | 'permissions' | 'notifyAdmins' | 'requestedBy' | 'requestedByKey' | 'requestedAt'
>;

/**
 * How a grant stands at an instant: `active` and `expired` are approved grants before and after
 * their `expires_at`; `pending_review` is an expired or revoked grant nobody has reviewed yet.
 */
export const BREAK_GLASS_STATES = ['pending_approval', 'active', 'expired', 'denied', 'revoked', 'pending_review', 'reviewed'] as const;
export type BreakGlassState = (typeof BREAK_GLASS_STATES)[number];

/** The events a change is recorded with, built from the row it produced. */
type AuditOf = (row: BreakGlassGrantRow) => AuditRecord[];

type Grants = ExpressionBuilder<Database, 'breakGlassGrants'>;

/** Grants in `state` at `at`: the SQL form of what `BREAK_GLASS_STATES` describes. */
function inState(eb: Grants, state: BreakGlassState, at: Date) {
  const approved = eb('status', '=', 'approved');
  const ended = eb.or([eb('status', '=', 'revoked'), eb.and([approved, eb('expiresAt', '<=', at)])]);
  switch (state) {
    case 'active':
      return eb.and([approved, eb('expiresAt', '>', at)]);
    case 'expired':
      return eb.and([approved, eb('expiresAt', '<=', at)]);
    case 'pending_review':
      return eb.and([ended, eb('reviewedAt', 'is', null)]);
    case 'reviewed':
      return eb('reviewedAt', 'is not', null);
    default:
      return eb('status', '=', state);
  }
}

export interface BreakGlassListFilter {
  /** Only this organisation's grants; undefined: every organisation's. */
  organizationId?: string;
  state?: BreakGlassState;
  at: Date;
  /** Keyset: the page starts after this grant (newest first). */
  after?: { requestedAt: Date; id: string };
  limit: number;
}

/**
 * Every change of a grant is one transaction with its audit events: if the events cannot be
 * written, the change is not made (fail closed), and a change that lost a race writes no event.
 * Each change is a single `UPDATE … WHERE <the state it starts from> RETURNING`, so of two
 * concurrent approvals (or reviews, or revocations) exactly one takes effect.
 */
export function createBreakGlassRepository(db: Db) {
  async function audited(change: (trx: Db) => Promise<BreakGlassGrantRow | undefined>, audit: AuditOf): Promise<BreakGlassGrantRow | undefined> {
    return db.transaction().execute(async (trx) => {
      const row = await change(trx);
      if (row) await createAuditEventRepository(trx).append(audit(row));
      return row;
    });
  }

  return {
    create: async (grant: NewBreakGlassGrant, audit: AuditOf): Promise<BreakGlassGrantRow> =>
      (await audited((trx) => trx.insertInto('breakGlassGrants').values(grant).returningAll().executeTakeFirstOrThrow(), audit))!,

    find: (id: string): Promise<BreakGlassGrantRow | undefined> => db.selectFrom('breakGlassGrants').selectAll().where('id', '=', id).executeTakeFirst(),

    /** Approves a pending grant: it is active from `at` for its duration. */
    approve: (id: string, by: { decidedBy: string; selfApproved: boolean; at: Date }, audit: AuditOf) =>
      audited(
        (trx) =>
          trx
            .updateTable('breakGlassGrants')
            .set({
              status: 'approved',
              decidedBy: by.decidedBy,
              decidedAt: by.at,
              selfApproved: by.selfApproved,
              startsAt: by.at,
              expiresAt: sql<Date>`${by.at}::timestamptz + make_interval(secs => ${sql.ref('durationSeconds')})`,
            })
            .where('id', '=', id)
            .where('status', '=', 'pending_approval')
            .returningAll()
            .executeTakeFirst(),
        audit,
      ),

    deny: (id: string, by: { decidedBy: string; at: Date }, audit: AuditOf) =>
      audited(
        (trx) =>
          trx
            .updateTable('breakGlassGrants')
            .set({ status: 'denied', decidedBy: by.decidedBy, decidedAt: by.at })
            .where('id', '=', id)
            .where('status', '=', 'pending_approval')
            .returningAll()
            .executeTakeFirst(),
        audit,
      ),

    /** Ends a grant that is active at `at`. */
    revoke: (id: string, by: { revokedBy: string; at: Date }, audit: AuditOf) =>
      audited(
        (trx) =>
          trx
            .updateTable('breakGlassGrants')
            .set({ status: 'revoked', revokedBy: by.revokedBy, revokedAt: by.at })
            .where('id', '=', id)
            .where((eb) => inState(eb, 'active', by.at))
            .returningAll()
            .executeTakeFirst(),
        audit,
      ),

    /** Records the one review of a grant that has ended (expired or revoked) by `at`. */
    review: (id: string, review: { reviewedBy: string; at: Date; outcome: 'appropriate' | 'inappropriate'; notes: string | null }, audit: AuditOf) =>
      audited(
        (trx) =>
          trx
            .updateTable('breakGlassGrants')
            .set({ reviewedBy: review.reviewedBy, reviewedAt: review.at, reviewOutcome: review.outcome, reviewNotes: review.notes })
            .where('id', '=', id)
            .where((eb) => inState(eb, 'pending_review', review.at))
            .returningAll()
            .executeTakeFirst(),
        audit,
      ),

    /** The user's grant active at `at` (the latest approved, should several overlap). */
    activeFor: (userId: string, at: Date): Promise<BreakGlassGrantRow | undefined> =>
      db
        .selectFrom('breakGlassGrants')
        .selectAll()
        .where('userId', '=', userId)
        .where((eb) => inState(eb, 'active', at))
        .orderBy('startsAt', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst(),

    /** True for the one caller that records the grant's first use. */
    async markFirstUse(id: string, at: Date): Promise<boolean> {
      const row = await db
        .updateTable('breakGlassGrants')
        .set({ firstUsedAt: at })
        .where('id', '=', id)
        .where('firstUsedAt', 'is', null)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },

    /** How many grants are in each state at `at`, in one statement (for the metrics scrape). */
    async countByState(at: Date): Promise<Record<'pending_approval' | 'active' | 'expired' | 'pending_review', number>> {
      const row = await db
        .selectFrom('breakGlassGrants')
        .select((eb) => [
          eb.fn
            .countAll<number>()
            .filterWhere((e) => inState(e, 'pending_approval', at))
            .as('pendingApproval'),
          eb.fn
            .countAll<number>()
            .filterWhere((e) => inState(e, 'active', at))
            .as('active'),
          eb.fn
            .countAll<number>()
            .filterWhere((e) => inState(e, 'expired', at))
            .as('expired'),
          eb.fn
            .countAll<number>()
            .filterWhere((e) => inState(e, 'pending_review', at))
            .as('pendingReview'),
        ])
        .executeTakeFirstOrThrow();
      return {
        pending_approval: Number(row.pendingApproval),
        active: Number(row.active),
        expired: Number(row.expired),
        pending_review: Number(row.pendingReview),
      };
    },

    /** Newest first, keyset-paged on (requested_at, id). */
    list(filter: BreakGlassListFilter): Promise<BreakGlassGrantRow[]> {
      let q = db.selectFrom('breakGlassGrants').selectAll();
      if (filter.organizationId !== undefined) q = q.where('organizationId', '=', filter.organizationId);
      if (filter.state !== undefined) {
        const state = filter.state;
        q = q.where((eb) => inState(eb, state, filter.at));
      }
      if (filter.after) {
        const { requestedAt, id } = filter.after;
        q = q.where((eb) => eb.or([eb('requestedAt', '<', requestedAt), eb.and([eb('requestedAt', '=', requestedAt), eb('id', '<', id)])]));
      }
      return q.orderBy('requestedAt', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
    },
  };
}

export type BreakGlassRepository = ReturnType<typeof createBreakGlassRepository>;
