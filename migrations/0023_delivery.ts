import { sql, type Kysely } from 'kysely';

/**
 * How codes leave the IdP: the SMS/voice providers an operator configured (per organisation or for
 * all, tried in priority order), and one record per delivery attempt. A record names the account,
 * the destination (its credential id), the channel and the provider, never the number, the address
 * or the code.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('delivery_providers')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('twilio', 'webhook')`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('channels', sql`text[]`, (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    // What is not secret (account sid, sender, URL); the auth token or signing secret is sealed apart.
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('delivery_providers_order_idx').on('delivery_providers').columns(['priority', 'created_at']).execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('account_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('destination_id', 'text')
    .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('sms', 'voice', 'email')`))
    .addColumn('provider_id', 'uuid', (c) => c.references('delivery_providers.id').onDelete('set null'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('accepted', 'sent', 'delivered', 'failed', 'undelivered', 'timeout')`))
    .addColumn('provider_message_id', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index deliveries_account_idx on deliveries (account_id, created_at desc)`.execute(db);
  // A status callback names the provider's message id.
  await sql`create index deliveries_message_idx on deliveries (provider_id, provider_message_id) where provider_message_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('deliveries').ifExists().execute();
  await db.schema.dropTable('delivery_providers').ifExists().execute();
}
