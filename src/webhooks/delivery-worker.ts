import { randomInt } from 'node:crypto';
import type { SecretBox } from '../lib/crypto.js';
import type { Logger } from '../lib/logger.js';
import { signPayload } from '../lib/webhook-signature.js';
import type { ClaimedDelivery, WebhookRepository } from '../store/repositories/webhook.repository.js';
import { openPayload } from './events.js';
import { postJson, type PostResult } from './sender.js';
import type { TargetRules } from './target.js';

/** Seconds to wait after each failed attempt; after the last one the delivery has failed (seven attempts in about 8.6 hours). */
export const RETRY_DELAYS_SECONDS = [10, 60, 300, 1800, 7200, 21_600] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** The delay before the next attempt after `attempt` failed, ±20 % so that receivers coming back are not hit all at once. */
export function retryDelayMs(attempt: number): number | undefined {
  const base = RETRY_DELAYS_SECONDS[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * 1000 * (0.8 + randomInt(0, 401) / 1000));
}

export interface DeliveryWorkerDeps {
  repo: WebhookRepository;
  box: SecretBox;
  clock: { now(): number };
  logger: Pick<Logger, 'warn' | 'info'>;
  rules: TargetRules;
  timeoutMs?: number;
  /** Deliveries taken per run. */
  batch?: number;
}

/**
 * Sends due deliveries. Each run takes a batch (counted and leased in one statement, skipping what
 * another node's worker is taking), sends them in parallel, and records each result: a 2xx is done,
 * anything else is tried again after the next delay, and after the last attempt it has failed.
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps) {
  const timeoutMs = deps.timeoutMs ?? 5000;
  const batch = deps.batch ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let again = false;

  async function attempt(d: ClaimedDelivery, now: number): Promise<void> {
    let result: PostResult;
    try {
      const body = JSON.stringify(openPayload(d.payload, deps.box));
      const secret = deps.box.open(d.secretSealed);
      result = await postJson(
        d.url,
        body,
        { 'x-idp-signature': signPayload(secret, body, now), 'x-idp-event': d.eventType, 'x-idp-delivery': d.id },
        timeoutMs,
        deps.rules,
      );
    } catch (err) {
      result = { error: err instanceof Error ? err.message.slice(0, 200) : 'failed' };
    }
    const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
    const delay = ok ? undefined : retryDelayMs(d.attempts);
    const at = new Date(deps.clock.now());
    await deps.repo.complete(d.id, d.attempts, {
      status: ok ? 'succeeded' : delay === undefined ? 'failed' : 'pending',
      statusCode: result.statusCode ?? null,
      error: ok ? null : (result.error ?? `HTTP ${result.statusCode}`),
      nextAttemptAt: new Date(now + (delay ?? 0)),
      at,
    });
    if (!ok)
      deps.logger.info(
        { delivery: d.id, subscription: d.subscriptionId, attempt: d.attempts, statusCode: result.statusCode, error: result.error },
        'webhook delivery attempt failed',
      );
  }

  /** One run at `now`: what was due is attempted once; answers how many were taken. */
  async function runOnce(now: number = deps.clock.now()): Promise<number> {
    const claimed = await deps.repo.claimDue(new Date(now), new Date(now + timeoutMs + 30_000), batch);
    await Promise.all(claimed.map((d) => attempt(d, now)));
    return claimed.length;
  }

  /** Runs until nothing more is due; a kick during a run makes it look again once it ends. */
  function drain(): void {
    if (!timer) return;
    if (running) {
      again = true;
      return;
    }
    running = runOnce()
      .catch((err: unknown) => {
        deps.logger.warn({ err }, 'webhook delivery run failed');
        return 0;
      })
      .then((n) => {
        running = undefined;
        if (again || n === batch) {
          again = false;
          drain();
        }
        return n;
      });
  }

  return {
    runOnce,
    /** Something was enqueued: look now rather than at the next tick. */
    kick: () => {
      if (timer) setImmediate(drain);
    },
    start(intervalMs = 5000): void {
      timer ??= setInterval(drain, intervalMs);
      timer.unref();
    },
    /** Stops the timer and waits for a run in progress. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;
