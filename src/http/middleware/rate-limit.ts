import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { tooManyRequests } from '../../lib/errors.js';
import type { RateLimitCounters } from '../../store/rate-limit-counters.js';

/**
 * Requests per bucket (an address, a user) over the shared counters, so every node counts
 * together. Over the limit: 429 with Retry-After saying when the bucket's window ends.
 */
export function createRateLimiter(counters: RateLimitCounters) {
  const limiters = new Map<string, RateLimiterAbstract>();
  return {
    async hit(bucket: string, limit: number, windowSec: number): Promise<void> {
      const shape = `${limit}/${windowSec}`;
      let limiter = limiters.get(shape);
      if (!limiter) limiters.set(shape, (limiter = counters(limit, windowSec)));
      try {
        await limiter.consume(bucket);
      } catch (err) {
        // The library rejects with its verdict when over the limit, with an Error when the store fails.
        if (err instanceof RateLimiterRes) throw tooManyRequests(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
        throw err;
      }
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
