import type { Db } from '../db.js';
import type { TrustedDeviceRow } from '../database.js';

export function createTrustedDeviceRepository(db: Db) {
  const live = () => db.selectFrom('trustedDevices').selectAll().where('revokedAt', 'is', null).where('expiresAt', '>', new Date());
  return {
    insert: (d: {
      userId: string;
      tokenHash: string;
      name: string;
      ip: string | null;
      userAgent: string | null;
      expiresAt: Date;
      lastUsedAt: Date;
    }): Promise<TrustedDeviceRow> =>
      db
        .insertInto('trustedDevices')
        .values({ ...d, revokedAt: null })
        .returningAll()
        .executeTakeFirstOrThrow(),
    /** Bound to the account: another user's device token never matches. */
    findActive: (userId: string, tokenHash: string) => live().where('userId', '=', userId).where('tokenHash', '=', tokenHash).executeTakeFirst(),
    /** One live device of the account by id (the device a session signed in with). */
    findActiveById: (userId: string, id: string) => live().where('userId', '=', userId).where('id', '=', id).executeTakeFirst(),
    listActive: (userId: string) => live().where('userId', '=', userId).orderBy('createdAt', 'desc').execute(),
    async touch(id: string, at: Date): Promise<void> {
      await db.updateTable('trustedDevices').set({ lastUsedAt: at }).where('id', '=', id).execute();
    },
    async revoke(userId: string, id: string): Promise<boolean> {
      const res = await db
        .updateTable('trustedDevices')
        .set({ revokedAt: new Date() })
        .where('userId', '=', userId)
        .where('id', '=', id)
        .where('revokedAt', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async revokeAll(userId: string): Promise<number> {
      const res = await db
        .updateTable('trustedDevices')
        .set({ revokedAt: new Date() })
        .where('userId', '=', userId)
        .where('revokedAt', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
  };
}

export type TrustedDeviceRepository = ReturnType<typeof createTrustedDeviceRepository>;
