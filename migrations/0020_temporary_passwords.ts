import { sql, type Kysely } from 'kysely';

/**
 * A password an administrator issued for account recovery is temporary: it signs in only until
 * `password_temporary_until`, and only into a change of password. Null: the user's own password.
 * The indexes serve the admin user list, which pages by id within an organisation and searches
 * names by prefix.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('password_temporary_until', 'timestamptz').execute();
  await sql`create index users_organization_id on users (organization_id, id)`.execute(db);
  // Prefix searches (`lower(x) like 'abc%'`) need pattern-ordered indexes whatever the collation.
  for (const column of ['username', 'email', 'external_id']) {
    await sql`create index ${sql.id(`users_${column}_prefix`)} on users (lower(${sql.id(column)}) text_pattern_ops)`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ['username', 'email', 'external_id']) await sql`drop index if exists ${sql.id(`users_${column}_prefix`)}`.execute(db);
  await sql`drop index if exists users_organization_id`.execute(db);
  await db.schema.alterTable('users').dropColumn('password_temporary_until').execute();
}
