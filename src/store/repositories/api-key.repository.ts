import type { Db } from '../db.js';
import type { ApiKeyRow } from '../database.js';

export function createApiKeyRepository(db: Db) {
  return {
    findActiveByPrefix: (prefix: string): Promise<ApiKeyRow | undefined> =>
      db.selectFrom('apiKeys').selectAll().where('prefix', '=', prefix).where('revokedAt', 'is', null).executeTakeFirst(),
    async insert(k: { prefix: string; secretHash: string; name: string; scopes: string[]; organizationId: string | null }): Promise<ApiKeyRow> {
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
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
