import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { WebhookDeliveryRow, WebhookDeliveryStatus, WebhookSubscriptionRow } from '../database.js';

export interface NewWebhookSubscription {
  organizationId: string | null;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  secretSealed: string;
}

export type WebhookSubscriptionChange = Partial<Pick<NewWebhookSubscription, 'url' | 'events' | 'description' | 'enabled' | 'secretSealed'>>;

export interface NewWebhookDelivery {
  subscriptionId: string;
  eventType: string;
  payload: Record<string, unknown>;
  nextAttemptAt: Date;
}

/** A delivery taken by one worker for one attempt, with where it goes and the sealed secret it is signed with. */
export interface ClaimedDelivery {
  id: string;
  subscriptionId: string;
  eventType: string;
  payload: Record<string, unknown>;
  /** This attempt's number (1 for the first); the result is recorded only for this attempt. */
  attempts: number;
  url: string;
  secretSealed: string;
}

export interface DeliveryResult {
  status: WebhookDeliveryStatus;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: Date;
  at: Date;
}

/** Subscriptions and their durable delivery queue (migration 0026). */
export function createWebhookRepository(db: Db) {
  const subscriptions = () => db.selectFrom('webhookSubscriptions').selectAll();
  return {
    createSubscription: (s: NewWebhookSubscription): Promise<WebhookSubscriptionRow> =>
      db.insertInto('webhookSubscriptions').values(s).returningAll().executeTakeFirstOrThrow(),

    findSubscription: (id: string): Promise<WebhookSubscriptionRow | undefined> => subscriptions().where('id', '=', id).executeTakeFirst(),

    /** An organisation's subscriptions (undefined: every one), oldest first. */
    listSubscriptions: (organizationId?: string): Promise<WebhookSubscriptionRow[]> =>
      (organizationId === undefined ? subscriptions() : subscriptions().where('organizationId', '=', organizationId))
        .orderBy('createdAt')
        .orderBy('id')
        .execute(),

    updateSubscription: (id: string, change: WebhookSubscriptionChange, at: Date): Promise<WebhookSubscriptionRow | undefined> =>
      db
        .updateTable('webhookSubscriptions')
        .set({ ...change, updatedAt: at })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),

    async deleteSubscription(id: string): Promise<boolean> {
      const r = await db.deleteFrom('webhookSubscriptions').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    },

    /** What every enabled subscription wants, for a cache that spares the statement when nobody wants an event. */
    interests: (): Promise<Pick<WebhookSubscriptionRow, 'organizationId' | 'events'>[]> =>
      db.selectFrom('webhookSubscriptions').select(['organizationId', 'events']).where('enabled', '=', true).execute(),

    /** The enabled subscriptions that want one of `types` from one of `organizationIds` (or from all): one indexed statement. */
    subscribersOf: (
      types: readonly string[],
      organizationIds: readonly string[],
    ): Promise<Pick<WebhookSubscriptionRow, 'id' | 'organizationId' | 'events'>[]> =>
      db
        .selectFrom('webhookSubscriptions')
        .select(['id', 'organizationId', 'events'])
        .where('enabled', '=', true)
        .where(sql<boolean>`events && ${sql.val([...types])}::text[]`)
        .where((eb) => eb.or([eb('organizationId', 'is', null), ...(organizationIds.length ? [eb('organizationId', 'in', [...organizationIds])] : [])]))
        .execute(),

    async enqueue(deliveries: readonly NewWebhookDelivery[]): Promise<string[]> {
      if (!deliveries.length) return [];
      const rows = await db
        .insertInto('webhookDeliveries')
        .values(deliveries.map((d) => ({ ...d, payload: JSON.stringify(d.payload) })))
        .returning('id')
        .execute();
      return rows.map((r) => r.id);
    },

    /**
     * Takes up to `limit` due deliveries of enabled subscriptions for one attempt each: the attempt is
     * counted and the delivery leased until `leaseUntil` in the same statement, and rows another
     * worker is taking are skipped (`SKIP LOCKED`), so each is attempted by one worker.
     */
    async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
      const { rows } = await sql<ClaimedDelivery>`
        with due as (
          select d.id from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id
          where d.status = 'pending' and d.next_attempt_at <= ${now} and s.enabled
          order by d.next_attempt_at limit ${limit}
          for update of d skip locked
        )
        update webhook_deliveries d set attempts = d.attempts + 1, next_attempt_at = ${leaseUntil}, updated_at = ${now}
        from due, webhook_subscriptions s
        where d.id = due.id and s.id = d.subscription_id
        returning d.id, d.subscription_id, d.event_type, d.payload, d.attempts, s.url, s.secret_sealed`.execute(db);
      return rows;
    },

    /** Records an attempt's result, unless the delivery was taken again since (a redelivery, a lease that ran out). */
    async complete(id: string, attempt: number, r: DeliveryResult): Promise<boolean> {
      const res = await db
        .updateTable('webhookDeliveries')
        .set({ status: r.status, lastStatusCode: r.statusCode, lastError: r.error, nextAttemptAt: r.nextAttemptAt, lastAttemptAt: r.at, updatedAt: r.at })
        .where('id', '=', id)
        .where('attempts', '=', attempt)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return res.numUpdatedRows > 0n;
    },

    /** A subscription's deliveries, newest first; `before` continues a page. */
    listDeliveries: (subscriptionId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<WebhookDeliveryRow[]> => {
      let q = db.selectFrom('webhookDeliveries').selectAll().where('subscriptionId', '=', subscriptionId);
      if (before)
        q = q.where((eb) => eb.or([eb('createdAt', '<', before.createdAt), eb.and([eb('createdAt', '=', before.createdAt), eb('id', '<', before.id)])]));
      return q.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },

    findDelivery: (subscriptionId: string, id: string): Promise<WebhookDeliveryRow | undefined> =>
      db.selectFrom('webhookDeliveries').selectAll().where('subscriptionId', '=', subscriptionId).where('id', '=', id).executeTakeFirst(),

    /** A finished delivery goes back to the queue with a fresh schedule; one still pending is left alone (undefined). */
    redeliver: (subscriptionId: string, id: string, now: Date): Promise<WebhookDeliveryRow | undefined> =>
      db
        .updateTable('webhookDeliveries')
        .set({ status: 'pending', attempts: 0, nextAttemptAt: now, updatedAt: now })
        .where('subscriptionId', '=', subscriptionId)
        .where('id', '=', id)
        .where('status', '!=', 'pending')
        .returningAll()
        .executeTakeFirst(),
  };
}

export type WebhookRepository = ReturnType<typeof createWebhookRepository>;
