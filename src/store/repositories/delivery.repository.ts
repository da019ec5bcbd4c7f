import type { Db } from '../db.js';
import type { DeliveryRow, DeliveryStatus } from '../database.js';

export type NewDelivery = Pick<
  DeliveryRow,
  'id' | 'organizationId' | 'accountId' | 'destinationId' | 'channel' | 'providerId' | 'provider' | 'status' | 'providerMessageId' | 'error'
>;

/** Statuses a later report may replace: a final one (delivered, failed, undelivered) is never overwritten by a late or replayed callback. */
const REPLACEABLE: Record<DeliveryStatus, DeliveryStatus[]> = {
  accepted: [],
  timeout: [],
  sent: ['accepted', 'timeout'],
  delivered: ['accepted', 'timeout', 'sent'],
  failed: ['accepted', 'timeout', 'sent'],
  undelivered: ['accepted', 'timeout', 'sent'],
};

export function createDeliveryRepository(db: Db) {
  return {
    record: (d: NewDelivery): Promise<DeliveryRow> => db.insertInto('deliveries').values(d).returningAll().executeTakeFirstOrThrow(),
    /** A provider's report on one of its messages, found by the provider's message id or our own delivery id. */
    async report(providerId: string, match: { messageId: string } | { deliveryId: string }, status: DeliveryStatus, error: string | null): Promise<boolean> {
      const from = REPLACEABLE[status];
      if (from.length === 0) return false;
      let q = db.updateTable('deliveries').set({ status, error, updatedAt: new Date() }).where('providerId', '=', providerId).where('status', 'in', from);
      q = 'messageId' in match ? q.where('providerMessageId', '=', match.messageId) : q.where('id', '=', match.deliveryId);
      const r = await q.executeTakeFirst();
      return r.numUpdatedRows > 0n;
    },
    /** Drops the records older than `before` (the sweep keeps them for a retention period). */
    async prune(before: Date): Promise<number> {
      const r = await db.deleteFrom('deliveries').where('createdAt', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    /** Newest first; `organizationId` null reaches every organisation. */
    list(filter: { accountId?: string; organizationId: string | null; limit: number }): Promise<DeliveryRow[]> {
      let q = db.selectFrom('deliveries').selectAll();
      if (filter.accountId) q = q.where('accountId', '=', filter.accountId);
      if (filter.organizationId !== null) q = q.where('organizationId', '=', filter.organizationId);
      return q.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
    },
  };
}

export type DeliveryRepository = ReturnType<typeof createDeliveryRepository>;
