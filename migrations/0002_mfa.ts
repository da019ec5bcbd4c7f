import { sql, type Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('credentials')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('secret_sealed', 'text')
    .addColumn('secret_hash', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('confirmed_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('used_at', 'timestamptz')
    .addColumn('last_totp_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index credentials_user_kind on credentials (user_id, kind)`.execute(db);

  await db.schema
    .alterTable('users')
    .addColumn('mfa_failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('users').addColumn('mfa_locked_until', 'timestamptz').execute();
  await db.schema
    .alterTable('users')
    .addColumn('mfa_lock_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('trusted_devices')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await sql`create index trusted_devices_user on trusted_devices (user_id)`.execute(db);

  // Global settings live here; organisation settings in organizations.settings.
  await db.schema
    .createTable('settings')
    .addColumn('scope', 'text', (c) => c.primaryKey())
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // What each authentication proved, per (account, auth_time): read by the login Check and the token claims.
  await db.schema
    .createTable('authn_states')
    .addColumn('account_id', 'uuid', (c) => c.notNull())
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('events', 'jsonb', (c) => c.notNull())
    .addColumn('step_up', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('trusted_device_id', 'uuid')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('authn_states_pk', ['account_id', 'auth_time'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['authn_states', 'settings', 'trusted_devices', 'credentials']) await db.schema.dropTable(t).ifExists().execute();
  for (const c of ['mfa_failed_attempts', 'mfa_locked_until', 'mfa_lock_count']) await db.schema.alterTable('users').dropColumn(c).execute();
}
