import { sql, type Kysely } from 'kysely';

/**
 * Emergency ("break-glass") access grants: a request for extra permissions for one user, approved by
 * a second API key, active from its approval for its duration, then kept for a mandatory review.
 * Whether a grant is active or expired is never stored: it is `expires_at` against the clock, so it
 * ends on every node at once without a job. `status` holds only what a person decided.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('break_glass_grants')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending_approval')
        .check(sql`status in ('pending_approval', 'approved', 'denied', 'revoked')`),
    )
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('duration_seconds', 'integer', (c) => c.notNull().check(sql`duration_seconds > 0`))
    .addColumn('permissions', sql`text[]`, (c) => c.notNull())
    .addColumn('notify_admins', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_by_key', 'uuid', (c) => c.notNull())
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'timestamptz')
    .addColumn('self_approved', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('starts_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('first_used_at', 'timestamptz')
    .addColumn('reviewed_by', 'text')
    .addColumn('reviewed_at', 'timestamptz')
    .addColumn('review_outcome', 'text', (c) => c.check(sql`review_outcome in ('appropriate', 'inappropriate')`))
    .addColumn('review_notes', 'text')
    .execute();
  // The token path asks "what is active for this user now" at each issuance.
  await sql`create index break_glass_grants_active on break_glass_grants (user_id, expires_at) where status = 'approved'`.execute(db);
  await sql`create index break_glass_grants_org on break_glass_grants (organization_id, requested_at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('break_glass_grants').ifExists().execute();
}
