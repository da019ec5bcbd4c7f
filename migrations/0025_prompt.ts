import { sql, type Kysely } from 'kysely';

/**
 * Push approval ("prompt"): a device's key and how prompts reach it, beside its `credentials` row
 * (kind `prompt`); the prompts themselves, each bound to the login that asked for it and answered
 * once; each organisation's own prompt webhook (its app pushes the prompts); the IdP's VAPID key
 * pair for Web Push, created once and shared by every node.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('prompt_devices')
    .addColumn('id', 'uuid', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('transport', 'text', (c) => c.notNull().check(sql`transport in ('webpush', 'webhook')`))
    .addColumn('public_jwk', 'jsonb', (c) => c.notNull())
    .addColumn('subscription_sealed', 'text')
    .execute();

  await db.schema
    .createTable('prompts')
    .addColumn('ref', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('binding_hash', 'text', (c) => c.notNull())
    .addColumn('number', 'smallint', (c) => c.notNull())
    .addColumn('choices', sql`smallint[]`, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('app_name', 'text', (c) => c.notNull())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('device_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('prompts_binding').on('prompts').columns(['binding_hash', 'status']).execute();
  await db.schema.createIndex('prompts_expiry').on('prompts').column('expires_at').execute();

  await db.schema
    .createTable('prompt_webhooks')
    .addColumn('organization_id', 'uuid', (c) => c.primaryKey().references('organizations.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('prompt_vapid_keys')
    .addColumn('singleton', 'boolean', (c) =>
      c
        .primaryKey()
        .defaultTo(true)
        .check(sql`singleton`),
    )
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('private_sealed', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['prompt_vapid_keys', 'prompt_webhooks', 'prompts', 'prompt_devices']) await db.schema.dropTable(table).ifExists().execute();
}
