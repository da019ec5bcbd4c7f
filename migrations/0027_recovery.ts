import { sql, type Kysely } from 'kysely';

/**
 * Recovery when every factor is lost: requests (confirmed through a verified e-mail address or
 * phone, or approved by trusted contacts), each ending in a waiting period and then one enrolment;
 * and each user's trusted contacts. Tokens and codes are stored as keyed hashes only.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('recovery_requests')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('method', 'text', (c) => c.notNull().check(sql`method in ('email', 'phone', 'trusted_contacts')`))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending_confirmation', 'pending_approvals', 'waiting', 'completing', 'completed', 'cancelled')`),
    )
    .addColumn('token_hash', 'text')
    .addColumn('request_token_hash', 'text', (c) => c.notNull())
    .addColumn('cancel_token_hash', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('required_approvals', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('approvals', sql`uuid[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('confirmed_at', 'timestamptz')
    .addColumn('ready_at', 'timestamptz')
    .addColumn('completed_at', 'timestamptz')
    .addColumn('cancelled_at', 'timestamptz')
    .addColumn('cancelled_by', 'text')
    .addColumn('enrolled_method', 'text')
    .execute();
  await sql`create index recovery_requests_user on recovery_requests (user_id, created_at)`.execute(db);

  await db.schema
    .createTable('trusted_contacts')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('contact_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('trusted_contacts_pk', ['user_id', 'contact_id'])
    .addCheckConstraint('trusted_contacts_not_self', sql`user_id <> contact_id`)
    .execute();
  await sql`create index trusted_contacts_contact on trusted_contacts (contact_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('trusted_contacts').ifExists().execute();
  await db.schema.dropTable('recovery_requests').ifExists().execute();
}
