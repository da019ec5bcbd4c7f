import { sql, type Kysely } from 'kysely';

/**
 * OIDC entries are now stored under a keyed hash of their id, with no bearer value in the row.
 * Rows written before are unreachable by the new lookups and still hold working tokens in the
 * clear, so they go: users sign in again and relying parties obtain new refresh tokens.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`delete from oidc_payloads`.execute(db);
}

/** Nothing to restore: the deleted rows were sessions and tokens, not configuration. */
export async function down(): Promise<void> {}
