import { sql, type Kysely } from 'kysely';

/**
 * Sign-in rules: per login, the first enabled rule (lowest priority first) whose CEL condition
 * holds decides to skip MFA, require it, or deny. A rule without an organisation applies to all.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('policy_rules')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('condition', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('skip_mfa', 'require_mfa', 'deny')`))
    .addColumn('methods', sql`text[]`)
    .addColumn('min_acr', 'text', (c) => c.check(sql`min_acr in ('aal1', 'aal2', 'aal3')`))
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('policy_rules_order_idx').on('policy_rules').columns(['priority', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('policy_rules').ifExists().execute();
}
