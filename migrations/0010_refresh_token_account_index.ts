import { sql, type Kysely } from 'kysely';

/** Finding a user's refresh tokens (to revoke them after a factor change) without scanning every payload. */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index oidc_payloads_refresh_token_account on oidc_payloads ((payload->>'accountId')) where model = 'RefreshToken'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists oidc_payloads_refresh_token_account`.execute(db);
}
