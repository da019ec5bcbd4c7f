import { tooManyRequests } from '../../lib/errors.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';

/** Fixed-window limiter over the shared short-lived store, so every node counts together. */
export function createRateLimiter(store: EphemeralStore) {
  return {
    async hit(bucket: string, limit: number, windowSec: number): Promise<void> {
      const count = await store.increment(`rl:${bucket}:${Math.floor(Date.now() / 1000 / windowSec)}`, windowSec);
      if (count > limit) throw tooManyRequests();
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
