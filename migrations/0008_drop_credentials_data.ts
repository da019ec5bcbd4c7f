import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/** `credentials.data` was never written or read: each factor keeps what it needs in typed columns. */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credentials').dropColumn('data').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('credentials')
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
}
