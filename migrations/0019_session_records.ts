import { sql, type Kysely } from 'kysely';

/**
 * What the IdP knows of each SSO session beyond the provider's own entry: where and on what it was
 * signed in (for the session lists, the IP and device bindings and the idle timeout), when it was
 * last used, and the lifetime the organisation's policy gave it. `session_uid` is the provider
 * Session's uid (stable for its life, never a cookie value); `id` is the public id the APIs show.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('session_records')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('session_uid', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_active_at', 'timestamptz', (c) => c.notNull())
    .addColumn('auth_time', 'timestamptz', (c) => c.notNull())
    .addColumn('ends_at', 'timestamptz', (c) => c.notNull())
    .addColumn('idle_seconds', 'integer', (c) => c.notNull())
    .addColumn('remember_me', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('ua_family', 'text')
    .addColumn('device_key', 'text')
    .addColumn('acr', 'text')
    .addColumn('amr', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .execute();
  await sql`create index session_records_user on session_records (user_id, created_at)`.execute(db);
  await sql`create index session_records_ends on session_records (ends_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('session_records').ifExists().execute();
}
