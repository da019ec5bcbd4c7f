import type { Db } from '../db.js';

/** Raw settings layers: global in `settings`, per organisation in `organizations.settings`. */
export function createSettingsRepository(db: Db) {
  return {
    async getGlobal(): Promise<Record<string, unknown>> {
      const row = await db.selectFrom('settings').select('data').where('scope', '=', 'global').executeTakeFirst();
      return row?.data ?? {};
    },
    async putGlobal(data: Record<string, unknown>): Promise<void> {
      const json = JSON.stringify(data);
      await db
        .insertInto('settings')
        .values({ scope: 'global', data: json })
        .onConflict((oc) => oc.column('scope').doUpdateSet({ data: json, updatedAt: new Date() }))
        .execute();
    },
  };
}

export type SettingsRepository = ReturnType<typeof createSettingsRepository>;
