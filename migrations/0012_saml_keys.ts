import { sql, type Kysely } from 'kysely';

/**
 * The SAML IdP's signing keys: an RSA key (PKCS#8, sealed like the OIDC keys) and its self-signed
 * X.509 certificate, which the metadata publishes. Newest live key signs; a rotated-out key keeps
 * its certificate in the metadata until `expires_at`, so service providers that refresh the
 * metadata trust the new certificate before the old one goes.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('saml_signing_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('private_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('saml_signing_keys').ifExists().execute();
}
