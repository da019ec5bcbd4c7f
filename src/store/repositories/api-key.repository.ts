import type { Db } from '../db.js';
import type { ApiKeyRow } from '../database.js';

export interface NewApiKey {
  prefix: string;
  secretHash: string;
  name: string;
  scopes: string[];
  organizationId: string | null;
  expiresAt?: Date | null;
}

export function createApiKeyRepository(db: Db) {
  return {
    findActiveByPrefix: (prefix: string): Promise<ApiKeyRow | undefined> =>
      db.selectFrom('apiKeys').selectAll().where('prefix', '=', prefix).where('revokedAt', 'is', null).executeTakeFirst(),
    /** Revoked keys too: a revoked key's prefix stays taken. */
    findByPrefix: (prefix: string): Promise<ApiKeyRow | undefined> => db.selectFrom('apiKeys').selectAll().where('prefix', '=', prefix).executeTakeFirst(),
    findById: (id: string): Promise<ApiKeyRow | undefined> => db.selectFrom('apiKeys').selectAll().where('id', '=', id).executeTakeFirst(),
    /** Newest first; `organizationId` null lists every organisation's keys and the global ones. */
    list(limit: number, offset: number, organizationId: string | null): Promise<ApiKeyRow[]> {
      let q = db.selectFrom('apiKeys').selectAll();
      if (organizationId !== null) q = q.where('organizationId', '=', organizationId);
      return q.orderBy('createdAt', 'desc').orderBy('id').limit(limit).offset(offset).execute();
    },
    async insert(k: NewApiKey): Promise<ApiKeyRow> {
      return db.insertInto('apiKeys').values(k).returningAll().executeTakeFirstOrThrow();
    },
    /**
     * Sets "last used" if it still holds `seen` (compare-and-set): of the requests and nodes that
     * found it stale at once, exactly one gets true.
     */
    async touch(id: string, at: Date, seen: Date | null): Promise<boolean> {
      const res = await db
        .updateTable('apiKeys')
        .set({ lastUsedAt: at })
        .where('id', '=', id)
        .where((w) => (seen === null ? w('lastUsedAt', 'is', null) : w('lastUsedAt', '=', seen)))
        .executeTakeFirst();
      return res.numUpdatedRows > 0n;
    },
    /** The key as revoked; undefined when it was revoked already (the first revocation's time stays). */
    revoke: (id: string, at: Date): Promise<ApiKeyRow | undefined> =>
      db.updateTable('apiKeys').set({ revokedAt: at }).where('id', '=', id).where('revokedAt', 'is', null).returningAll().executeTakeFirst(),
    update: (id: string, changes: { name?: string; scopes?: string[] }): Promise<ApiKeyRow | undefined> =>
      db.updateTable('apiKeys').set(changes).where('id', '=', id).returningAll().executeTakeFirst(),
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
