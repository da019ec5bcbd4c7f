import { sql, type Kysely } from 'kysely';

/**
 * Authentication records are keyed by (account, auth_time, amr): two sign-ins of one account in
 * the same second with different methods must never read each other's record.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('authn_states')
    .addColumn('amr', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await sql`alter table authn_states drop constraint authn_states_pk`.execute(db);
  await sql`alter table authn_states add constraint authn_states_pk primary key (account_id, auth_time, amr)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from authn_states`.execute(db);
  await sql`alter table authn_states drop constraint authn_states_pk`.execute(db);
  await db.schema.alterTable('authn_states').dropColumn('amr').execute();
  await sql`alter table authn_states add constraint authn_states_pk primary key (account_id, auth_time)`.execute(db);
}
