import type { EphemeralStore } from '../ephemeral-store.js';
import type { RedisClient } from './client.js';
import { keys } from './keys.js';

export function createRedisEphemeralStore(redis: RedisClient): EphemeralStore {
  return {
    async get(key) {
      return (await redis.get(keys.ephemeral(key))) ?? undefined;
    },
    async set(key, value, ttlSec) {
      await redis.set(keys.ephemeral(key), value, 'EX', ttlSec);
    },
    async take(key) {
      return (await redis.getdel(keys.ephemeral(key))) ?? undefined;
    },
    async del(key) {
      await redis.del(keys.ephemeral(key));
    },
    increment: (key, windowSec) => redis.idpIncrementWindow(keys.ephemeral(key), windowSec),
    async ping() {
      await redis.ping();
    },
  };
}
