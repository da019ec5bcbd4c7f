import { sql, type Kysely } from 'kysely';

/**
 * Destinations of one-time codes (`credentials` of kind `phone` or `email`): an account holds a
 * verified number or address once, even when two verifications of it race.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create unique index credentials_destination_once on credentials (user_id, kind, secret_hash)
    where kind in ('phone', 'email') and confirmed_at is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists credentials_destination_once`.execute(db);
}
