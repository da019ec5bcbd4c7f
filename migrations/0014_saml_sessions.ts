import { sql, type Kysely } from 'kysely';

/**
 * A service provider can be switched off without losing its registration (`enabled`).
 *
 * Which service providers an SSO session has sent assertions to, with the NameID and SessionIndex
 * each one received: single logout tells every one of them, and finds the session an SP's
 * LogoutRequest names. The session is keyed by a keyed hash of its uid; the uid itself is kept
 * sealed, as the provider's own session rows keep it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('saml_service_providers')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();
  await db.schema
    .createTable('saml_session_participants')
    .addColumn('session_key', 'text', (c) => c.notNull())
    .addColumn('sp_id', 'uuid', (c) => c.notNull().references('saml_service_providers.id').onDelete('cascade'))
    .addColumn('session_uid_sealed', 'text', (c) => c.notNull())
    .addColumn('account_id', 'uuid', (c) => c.notNull())
    .addColumn('session_index', 'text', (c) => c.notNull())
    .addColumn('name_id', 'text', (c) => c.notNull())
    .addColumn('name_id_format', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('saml_session_participants_pk', ['session_key', 'sp_id'])
    .execute();
  await db.schema.createIndex('saml_session_participants_index_idx').on('saml_session_participants').columns(['sp_id', 'session_index']).execute();
  await db.schema.createIndex('saml_session_participants_expiry_idx').on('saml_session_participants').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('saml_session_participants').ifExists().execute();
  await db.schema.alterTable('saml_service_providers').dropColumn('enabled').execute();
}
