import { sql, type Kysely } from 'kysely';

/**
 * A password an administrator issued for account recovery is temporary: it signs in only until
 * `password_temporary_until`, and only into a change of password. Null: the user's own password.
 * The index serves the admin user list, which pages by id within an organisation.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('password_temporary_until', 'timestamptz').execute();
  await sql`create index users_organization_id on users (organization_id, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists users_organization_id`.execute(db);
  await db.schema.alterTable('users').dropColumn('password_temporary_until').execute();
}
