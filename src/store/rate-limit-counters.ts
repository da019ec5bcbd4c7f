import { RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from './db.js';
import type { RedisClient } from './redis/client.js';
import { RateLimiterSql } from './sql/sql-rate-limiter.js';

/** A key prefix of its own, apart from the other short-lived entries. */
const PREFIX = 'rl';

/**
 * Counters of `points` per window of `durationSec`, each window starting with its key's first hit,
 * shared by every node: in Redis when it is configured, else in the SQL database. Like everything
 * in Redis, their loss (a flush, an eviction) only restarts the windows; no lockout state is kept here.
 */
export function createRateLimitCounters(redis: RedisClient | undefined, db: Db) {
  return (points: number, durationSec: number): RateLimiterAbstract =>
    redis
      ? new RateLimiterRedis({ storeClient: redis, keyPrefix: PREFIX, points, duration: durationSec })
      : new RateLimiterSql(db, { keyPrefix: PREFIX, points, duration: durationSec });
}

export type RateLimitCounters = ReturnType<typeof createRateLimitCounters>;
