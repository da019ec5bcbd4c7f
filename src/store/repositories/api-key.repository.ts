import type { Db } from '../db.js';
import type { ApiKeyRow } from '../database.js';

export function createApiKeyRepository(db: Db) {
  return {
    findActiveByPrefix: (prefix: string): Promise<ApiKeyRow | undefined> =>
      db.selectFrom('apiKeys').selectAll().where('prefix', '=', prefix).where('revokedAt', 'is', null).executeTakeFirst(),
    async insert(k: { prefix: string; secretHash: string; name: string; scopes: string[]; organizationId: string | null }): Promise<ApiKeyRow> {
      return db.insertInto('apiKeys').values(k).returningAll().executeTakeFirstOrThrow();
    },
    async touch(id: string, at: Date): Promise<void> {
      await db.updateTable('apiKeys').set({ lastUsedAt: at }).where('id', '=', id).execute();
    },
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
