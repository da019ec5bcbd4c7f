import type { Db } from '../db.js';

/** A `credentials` row confirmed at once (a passkey, a prompt device, a set of security answers): set up in one step, no secret of its own. */
export const confirmedCredential = (userId: string, kind: string, name: string | null) => ({ userId, kind, name, confirmedAt: new Date() });

/**
 * Renaming and removing one of a user's credentials of a kind (a passkey, a prompt device): the
 * row must be the user's and of that kind, so an id of another kind or account changes nothing.
 */
export function namedCredentials(db: Db, kind: string) {
  return {
    rename: async (userId: string, id: string, name: string): Promise<boolean> => {
      const res = await db
        .updateTable('credentials')
        .set({ name, updatedAt: new Date() })
        .where('id', '=', id)
        .where('userId', '=', userId)
        .where('kind', '=', kind)
        .executeTakeFirst();
      return res.numUpdatedRows > 0n;
    },
    remove: async (userId: string, id: string): Promise<boolean> => {
      const res = await db.deleteFrom('credentials').where('id', '=', id).where('userId', '=', userId).where('kind', '=', kind).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },
  };
}
