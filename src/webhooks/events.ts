import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../lib/crypto.js';
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

/** How long this node trusts its view of what is subscribed to; another node's new subscription is seen within it. */
const INTERESTS_MS = 5000;

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
/**
 * A payload that carries a bearer value (a step's token) is stored sealed, as `{sealed}`: the worker
 * opens it to send it, and the delivery log does not show it.
 */
export const SEALED = 'sealed';

/** The payload to send, from what the queue stored. */
export function openPayload(stored: Record<string, unknown>, box: SecretBox): Record<string, unknown> {
  const sealed = stored[SEALED];
  return typeof sealed === 'string' ? (JSON.parse(box.open(sealed)) as Record<string, unknown>) : stored;
}

export function createWebhookQueue(deps: { repo: WebhookRepository; box: SecretBox; clock: { now(): number }; kick?: () => void }) {
  // Which event types anyone subscribes to, re-read every few seconds (and at once after a change on this node),
  // so that a login nobody subscribed to costs no statement.
  let interests: { at: number; types: Set<string> } | undefined;
  async function interested(type: string): Promise<boolean> {
    if (!interests || Date.now() - interests.at > INTERESTS_MS) {
      const rows = await deps.repo.interests();
      interests = { at: Date.now(), types: new Set(rows.flatMap((r) => r.events)) };
    }
    return interests.types.has(type);
  }

  return {
    interested,
    /** A subscription changed on this node: the next event reads what is wanted again. */
    changed: (): void => {
      interests = undefined;
    },
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
    /**
     * One event for one subscription, whatever it lists (a step of an MFA flow goes to the subscription
     * the settings name); `sealed` for a payload that carries a bearer value.
     */
    async sendTo(subscriptionId: string, event: WebhookEventInput, opts: { sealed?: boolean } = {}): Promise<string> {
      const now = deps.clock.now();
      const payload = payloadOf(event, now);
      const stored = opts.sealed ? { [SEALED]: deps.box.seal(JSON.stringify(payload)) } : { ...payload };
      const [id] = await deps.repo.enqueue([{ subscriptionId, eventType: event.type, payload: stored, nextAttemptAt: new Date(now) }]);
      deps.kick?.();
      return id!;
    },
  };
}

export type WebhookQueue = ReturnType<typeof createWebhookQueue>;
