import { GRANT_BOUND_MODELS, type OidcPayload, type OidcPayloadStore } from '../ephemeral-store.js';
import type { RedisClient } from './client.js';
import { keys } from './keys.js';

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
      if (grantId) await redis.idpAddToGrant(keys.oidcGrant(grantId), key, ttl);
      // The uid and user-code indexes live in other slots, so they cannot join this script.
      await redis.idpReplaceHash(key, JSON.stringify(payload), ttl);
      const writes: Promise<unknown>[] = [];
      if (typeof payload.uid === 'string') writes.push(redis.set(keys.oidcUid(model, payload.uid), id, 'EX', ttl));
      if (typeof payload.userCode === 'string') writes.push(redis.set(keys.oidcUserCode(model, payload.userCode), id, 'EX', ttl));
      await Promise.all(writes);
    },
    find: (model, id) => read(keys.oidc(model, id)),
    findByUid: (model, uid) => readIndirect(keys.oidcUid(model, uid), model),
    findByUserCode: (model, code) => readIndirect(keys.oidcUserCode(model, code), model),
    async consume(model, id) {
      return (await redis.idpConsume(keys.oidc(model, id), Math.floor(Date.now() / 1000))) === 1;
    },
    async unconsume(model, id) {
      await redis.hdel(keys.oidc(model, id), 'consumed');
    },
    async destroy(model, id) {
      await redis.del(keys.oidc(model, id));
    },
    async revokeByGrantId(grantId) {
      const grantKey = keys.oidcGrant(grantId);
      const members = await redis.smembers(grantKey);
      // One DEL per key: on a Cluster the members live in different slots.
      await Promise.all(members.map((k) => redis.del(k)));
      await redis.del(grantKey);
    },
  };
}
