import { GRANT_BOUND_MODELS, type OidcPayload, type OidcPayloadStore } from '../ephemeral-store.js';
import type { RedisClient } from './client.js';
import { keys } from './keys.js';

// Extends the grant index's TTL to cover its longest-lived member (one slot: the index key alone).
const ADD_TO_GRANT = `redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1`;
// Consumed at most once: HSETNX decides the single winner, EXISTS keeps a deleted entry deleted.
const CONSUME = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])`;

const MAX_TTL = 14 * 24 * 3600;

export function createRedisOidcStore(redis: RedisClient): OidcPayloadStore {
  async function read(key: string): Promise<OidcPayload | undefined> {
    const h = await redis.hgetall(key);
    if (!h.payload) return undefined;
    const payload = JSON.parse(h.payload) as OidcPayload;
    return h.consumed ? { ...payload, consumed: Number(h.consumed) } : payload;
  }
  async function readIndirect(indexKey: string, model: string) {
    const id = await redis.get(indexKey);
    return id ? read(keys.oidc(model, id)) : undefined;
  }

  return {
    async upsert(model, id, payload, expiresIn) {
      const key = keys.oidc(model, id);
      const ttl = expiresIn ?? MAX_TTL;
      const grantId = GRANT_BOUND_MODELS.has(model) && typeof payload.grantId === 'string' ? payload.grantId : undefined;
      // The grant index is written before the entry so a revocation can never miss it.
      if (grantId) await redis.eval(ADD_TO_GRANT, 1, keys.oidcGrant(grantId), key, String(ttl));
      await redis.multi().del(key).hset(key, 'payload', JSON.stringify(payload)).expire(key, ttl).exec();
      const writes: Promise<unknown>[] = [];
      if (typeof payload.uid === 'string') writes.push(redis.set(keys.oidcUid(model, payload.uid), id, 'EX', ttl));
      if (typeof payload.userCode === 'string') writes.push(redis.set(keys.oidcUserCode(model, payload.userCode), id, 'EX', ttl));
      await Promise.all(writes);
    },
    find: (model, id) => read(keys.oidc(model, id)),
    findByUid: (model, uid) => readIndirect(keys.oidcUid(model, uid), model),
    findByUserCode: (model, code) => readIndirect(keys.oidcUserCode(model, code), model),
    async consume(model, id) {
      const won = await redis.eval(CONSUME, 1, keys.oidc(model, id), String(Math.floor(Date.now() / 1000)));
      return Number(won) === 1;
    },
    async unconsume(model, id) { await redis.hdel(keys.oidc(model, id), 'consumed'); },
    async destroy(model, id) { await redis.del(keys.oidc(model, id)); },
    async revokeByGrantId(grantId) {
      const grantKey = keys.oidcGrant(grantId);
      const members = await redis.smembers(grantKey);
      // One DEL per key: on a Cluster the members live in different slots.
      await Promise.all(members.map((k) => redis.del(k)));
      await redis.del(grantKey);
    },
  };
}
