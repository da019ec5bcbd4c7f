import type { Selectable } from 'kysely';
import { contentDigest, plainJson } from '../../lib/audit-chain.js';
import type { Db } from '../db.js';
import type { AuditEventsTable } from '../database.js';

export interface AuditRecord {
  type: string;
  outcome: 'success' | 'failure';
  /** When it happened; the time of the append when absent. */
  at?: Date;
  actor?: string | null;
  subject?: string | null;
  organizationId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  clientId?: string | null;
  data?: Record<string, unknown>;
}

export type AuditEventRow = Selectable<AuditEventsTable>;

/** Which events to read; every field narrows. */
export interface AuditFilter {
  type?: string;
  /** Types starting with this. */
  typePrefix?: string;
  subject?: string;
  actor?: string;
  clientId?: string;
  outcome?: string;
  organizationId?: string;
  /** At or after. */
  from?: Date;
  /** Before. */
  to?: Date;
}

const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function createAuditEventRepository(db: Db) {
  return {
    /**
     * One statement for all of `events`, stored in their order (ascending ids). Each row goes out
     * with the digest of its content; the database links it to the chain.
     */
    async append(events: readonly AuditRecord[]): Promise<void> {
      if (!events.length) return;
      const now = new Date();
      await db
        .insertInto('auditEvents')
        .values(
          events.map((e) => {
            const row = {
              at: e.at ?? now,
              type: e.type,
              outcome: e.outcome,
              actor: e.actor ?? null,
              subject: e.subject ?? null,
              // uuid columns answer in lower case; the digest must be of what is read back.
              organizationId: e.organizationId?.toLowerCase() ?? null,
              ip: e.ip ?? null,
              requestId: e.requestId ?? null,
              clientId: e.clientId ?? null,
              data: plainJson(e.data),
            };
            return { ...row, data: JSON.stringify(row.data), hash: contentDigest(row) };
          }),
        )
        .execute();
    },

    /** Up to `limit` events after id `afterId` (and at most `upToId`), in id order: keyset pages that stay stable while rows are added. */
    page(filter: AuditFilter, afterId: number, limit: number, upToId?: number): Promise<AuditEventRow[]> {
      let q = db.selectFrom('auditEvents').selectAll().where('id', '>', afterId);
      if (upToId !== undefined) q = q.where('id', '<=', upToId);
      if (filter.type !== undefined) q = q.where('type', '=', filter.type);
      if (filter.typePrefix !== undefined) q = q.where('type', 'like', likePrefix(filter.typePrefix));
      if (filter.subject !== undefined) q = q.where('subject', '=', filter.subject);
      if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
      if (filter.clientId !== undefined) q = q.where('clientId', '=', filter.clientId);
      if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome);
      if (filter.organizationId !== undefined) q = q.where('organizationId', '=', filter.organizationId);
      if (filter.from !== undefined) q = q.where('at', '>=', filter.from);
      if (filter.to !== undefined) q = q.where('at', '<', filter.to);
      return q.orderBy('id').limit(limit).execute();
    },

    /** The chain's last link as committed: its id and hash. */
    head: (): Promise<{ lastId: number; hash: string }> => db.selectFrom('auditChainHead').select(['lastId', 'hash']).executeTakeFirstOrThrow(),
  };
}

export type AuditEventRepository = ReturnType<typeof createAuditEventRepository>;
