import { sql, type Kysely } from 'kysely';

/**
 * What the risk engine compares a login with: the facts of each user's recent successful logins
 * (where from, which device, which browser family, when). Bounded per user and by age by the
 * repository that writes it. Failed attempts are counted from the audit trail, which gets an index
 * for counting them per IP (per subject there is one already).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('risk_logins')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('country', 'text')
    .addColumn('latitude', 'double precision')
    .addColumn('longitude', 'double precision')
    .addColumn('device_key', 'text')
    .addColumn('ua_family', 'text')
    .execute();
  await sql`create index risk_logins_user_at on risk_logins (user_id, at desc)`.execute(db);
  await sql`create index risk_logins_at on risk_logins (at)`.execute(db);
  await sql`create index audit_events_failure_ip on audit_events (ip, at) where outcome = 'failure'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists audit_events_failure_ip`.execute(db);
  await db.schema.dropTable('risk_logins').ifExists().execute();
}
