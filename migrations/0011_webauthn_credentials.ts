import { sql, type Kysely } from 'kysely';

/**
 * What a WebAuthn credential needs beside its `credentials` row (which holds the owner, kind
 * `passkey`, name and use times): the public key and sign counter for assertions, and what
 * registration learned about the authenticator. The credential id is unique across all users
 * (WebAuthn Level 3 §7.1 step 26): a second registration of the same id is refused by the index.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webauthn_credentials')
    .addColumn('id', 'uuid', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('sign_count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('aaguid', 'text', (c) => c.notNull())
    .addColumn('authenticator_name', 'text')
    .addColumn('backup_eligible', 'boolean', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    .addColumn('user_verified', 'boolean', (c) => c.notNull())
    .addColumn('attestation_format', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webauthn_credentials').ifExists().execute();
}
