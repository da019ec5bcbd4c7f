import { randomUUID } from 'node:crypto';
import type { WebhookRepository } from '../store/repositories/webhook.repository.js';

/** What a receiver gets: the event, what it is about, and its facts (never a code, password or token of the user's). */
export interface WebhookPayload {
  id: string;
  type: string;
  created_at: string;
  resource: { type: string; id: string };
  data: Record<string, unknown>;
}

export interface WebhookEventInput {
  type: string;
  resource: { type: string; id: string };
  data: Record<string, unknown>;
}

export const payloadOf = (e: WebhookEventInput, at: number): WebhookPayload => ({
  id: randomUUID(),
  type: e.type,
  created_at: new Date(at).toISOString(),
  resource: e.resource,
  data: e.data,
});

/**
 * Puts events on the durable queue: one row per event and subscription, due at once. Nothing is
 * sent here; the delivery worker sends them (`kick` asks it to look now rather than at its next tick).
 */
export function createWebhookQueue(deps: { repo: WebhookRepository; clock: { now(): number }; kick?: () => void }) {
  return {
    /** Enqueues each event for every enabled subscription of its organisation (or of all) that wants it; one read, one insert. */
    async publish(events: readonly (WebhookEventInput & { organizationId: string | null })[]): Promise<number> {
      if (!events.length) return 0;
      const orgs = [...new Set(events.map((e) => e.organizationId).filter((o): o is string => o !== null))];
      const subscribers = await deps.repo.subscribersOf([...new Set(events.map((e) => e.type))], orgs);
      const now = deps.clock.now();
      const rows = events.flatMap((e) => {
        const payload = payloadOf(e, now);
        return subscribers
          .filter((s) => s.events.includes(e.type) && (s.organizationId === null || s.organizationId === e.organizationId))
          .map((s) => ({ subscriptionId: s.id, eventType: e.type, payload: { ...payload }, nextAttemptAt: new Date(now) }));
      });
      await deps.repo.enqueue(rows);
      if (rows.length) deps.kick?.();
      return rows.length;
    },
    /** One event for one subscription, whatever it lists (a step of an MFA flow goes to the subscription the settings name). */
    async sendTo(subscriptionId: string, event: WebhookEventInput): Promise<string> {
      const now = deps.clock.now();
      const [id] = await deps.repo.enqueue([{ subscriptionId, eventType: event.type, payload: { ...payloadOf(event, now) }, nextAttemptAt: new Date(now) }]);
      deps.kick?.();
      return id!;
    },
  };
}

export type WebhookQueue = ReturnType<typeof createWebhookQueue>;
