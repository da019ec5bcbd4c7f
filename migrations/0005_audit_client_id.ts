import { type Kysely } from 'kysely';

/** The relying party a login event belongs to, so that one login's events can be read together. */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('client_id', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('client_id').execute();
}
