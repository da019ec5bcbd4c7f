import type { Db } from '../db.js';
import type { Organization } from '../database.js';

export function createOrganizationRepository(db: Db) {
  return {
    findBySlug: (slug: string): Promise<Organization | undefined> => db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst(),
    findById: (id: string): Promise<Organization | undefined> => db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst(),
    async ensure(slug: string, name = slug): Promise<Organization> {
      await db
        .insertInto('organizations')
        .values({ slug, name })
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
      return db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirstOrThrow();
    },
    async updateSettings(id: string, settings: Record<string, unknown>): Promise<void> {
      await db
        .updateTable('organizations')
        .set({ settings: JSON.stringify(settings), updatedAt: new Date() })
        .where('id', '=', id)
        .execute();
    },
  };
}

export type OrganizationRepository = ReturnType<typeof createOrganizationRepository>;
