import type { Db } from '../db.js';

export interface AuditRecord {
  type: string;
  outcome: 'success' | 'failure';
  actor?: string | null;
  subject?: string | null;
  organizationId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  clientId?: string | null;
  data?: Record<string, unknown>;
}

export function createAuditEventRepository(db: Db) {
  return {
    /** One statement for all of `events`, stored in their order (ascending ids). */
    async append(events: readonly AuditRecord[]): Promise<void> {
      if (!events.length) return;
      await db
        .insertInto('auditEvents')
        .values(
          events.map((e) => ({
            type: e.type,
            outcome: e.outcome,
            actor: e.actor ?? null,
            subject: e.subject ?? null,
            organizationId: e.organizationId ?? null,
            ip: e.ip ?? null,
            requestId: e.requestId ?? null,
            clientId: e.clientId ?? null,
            data: JSON.stringify(e.data ?? {}),
          })),
        )
        .execute();
    },
  };
}

export type AuditEventRepository = ReturnType<typeof createAuditEventRepository>;
