import { sql, type Kysely } from 'kysely';

/**
 * What a person says about themselves: the name the pages and e-mails greet them by, and the
 * language they read (pages, e-mails, SMS and voice codes) when the request does not say one.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('name', 'text', (c) => c.check(sql`char_length(name) between 1 and 200`))
    .addColumn('locale', 'text', (c) => c.check(sql`locale ~ '^[a-z]{2}$'`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('name').dropColumn('locale').execute();
}
