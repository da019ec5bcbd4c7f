import type { Db } from '../db.js';

/** A trusted contact as its user sees it. */
export interface TrustedContact {
  id: string;
  username: string | null;
}

/** The users each user names to vouch for them in a recovery. */
export function createTrustedContactRepository(db: Db) {
  return {
    list: (userId: string): Promise<TrustedContact[]> =>
      db
        .selectFrom('trustedContacts')
        .innerJoin('users', 'users.id', 'trustedContacts.contactId')
        .select(['users.id', 'users.username'])
        .where('trustedContacts.userId', '=', userId)
        .orderBy('trustedContacts.createdAt')
        .orderBy('users.id')
        .execute(),

    /** Replaces the user's contacts by `contactIds` in one transaction. */
    async replace(userId: string, contactIds: readonly string[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('trustedContacts').where('userId', '=', userId).execute();
        if (contactIds.length)
          await trx
            .insertInto('trustedContacts')
            .values(contactIds.map((contactId) => ({ userId, contactId })))
            .execute();
      });
    },

    async isContact(userId: string, contactId: string): Promise<boolean> {
      const row = await db.selectFrom('trustedContacts').select('userId').where('userId', '=', userId).where('contactId', '=', contactId).executeTakeFirst();
      return row !== undefined;
    },

    /** Of `ids`, the active users of the organisation (who may be named as contacts). */
    async activeInOrganization(organizationId: string, ids: readonly string[]): Promise<string[]> {
      if (!ids.length) return [];
      const rows = await db
        .selectFrom('users')
        .select('id')
        .where('organizationId', '=', organizationId)
        .where('status', '=', 'active')
        .where('id', 'in', ids)
        .execute();
      return rows.map((r) => r.id);
    },
  };
}

export type TrustedContactRepository = ReturnType<typeof createTrustedContactRepository>;
