import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

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
    ? new Cluster(opts.clusterNodes.map((n) => {
      const [host, port] = n.split(':');
      return { host: host!, port: Number(port) };
    }), { redisOptions: { ...COMMON, keyPrefix }, keyPrefix, clusterRetryStrategy: (t) => Math.min(t * 200, 2000) })
    // While disconnected, fail at once (503) instead of queueing requests behind reconnects.
    : new Redis(opts.url!, { ...COMMON, keyPrefix, enableOfflineQueue: false });
  client.on('error', () => {}); // reported through failing commands and /readyz, not as crashes
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis connection timed out')), 5000);
    client.once('ready', () => { clearTimeout(timer); resolve(); });
  });
  return client;
}
