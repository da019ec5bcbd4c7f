import { Cluster, Redis, type RedisOptions, type Result } from 'ioredis';

export type RedisClient = Redis | Cluster;

/*
 * Multi-step writes as Lua scripts: one command each (EVALSHA; ioredis falls back to EVAL once
 * after a server restart flushed the script cache) instead of a MULTI/EXEC of several. Each script
 * touches the keys of one slot only, so it runs unchanged on a Redis Cluster.
 */
const SCRIPTS = {
  // Replaces the entry whole: a field of the previous version (e.g. `consumed`) must not survive.
  idpReplaceHash: {
    numberOfKeys: 1,
    lua: `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
return redis.call('EXPIRE', KEYS[1], ARGV[2])`,
  },
  // Fixed window: the TTL is set by the first increment only, later ones do not extend it.
  idpIncrementWindow: {
    numberOfKeys: 1,
    lua: `local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return n`,
  },
  // Extends the grant index's TTL to cover its longest-lived member.
  idpAddToGrant: {
    numberOfKeys: 1,
    lua: `redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1`,
  },
  // Consumed at most once: HSETNX decides the single winner, EXISTS keeps a deleted entry deleted.
  idpConsume: {
    numberOfKeys: 1,
    lua: `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])`,
  },
} as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    idpReplaceHash(key: string, payload: string, ttlSec: number): Result<number, Context>;
    idpIncrementWindow(key: string, windowSec: number): Result<number, Context>;
    idpAddToGrant(grantKey: string, member: string, ttlSec: number): Result<number, Context>;
    idpConsume(key: string, at: number): Result<number, Context>;
  }
}

export interface RedisConnectOptions {
  url?: string;
  clusterNodes?: string[];
  keyPrefix?: string;
}

/** Fail fast when Redis is down so requests get a 503 instead of hanging. */
const COMMON: RedisOptions = {
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 200, 2000),
};

export async function connectRedis(opts: RedisConnectOptions): Promise<RedisClient> {
  const keyPrefix = opts.keyPrefix ?? '';
  const client: RedisClient = opts.clusterNodes?.length
    ? new Cluster(
        opts.clusterNodes.map((n) => {
          const [host, port] = n.split(':');
          return { host: host!, port: Number(port) };
        }),
        { redisOptions: { ...COMMON, keyPrefix }, keyPrefix, clusterRetryStrategy: (t) => Math.min(t * 200, 2000) },
      )
    : // While disconnected, fail at once (503) instead of queueing requests behind reconnects.
      new Redis(opts.url!, { ...COMMON, keyPrefix, enableOfflineQueue: false });
  for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script);
  client.on('error', () => {}); // reported through failing commands and /readyz, not as crashes
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis connection timed out')), 5000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return client;
}
