import type { Kysely } from 'kysely';

/**
 * Password checks in flight per account, so that concurrent guesses cannot all be compared while
 * the failure count still reads low. The time of the last reservation lets checks abandoned by a
 * stopped process expire instead of blocking the account.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('password_checks_pending', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('users').addColumn('password_checks_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const c of ['password_checks_pending', 'password_checks_at']) await db.schema.alterTable('users').dropColumn(c).execute();
}
