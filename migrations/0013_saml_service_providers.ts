import { sql, type Kysely } from 'kysely';

/**
 * SAML service providers, registered from their metadata. The original document is kept as sent;
 * what the IdP acts on (endpoints, certificates, flags) is stored parsed, so a login never parses
 * metadata again. The entity ID is unique across organisations: an AuthnRequest names its SP by
 * Issuer alone.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('saml_service_providers')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('entity_id', 'text', (c) => c.notNull().unique())
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id'))
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('acs_endpoints', 'jsonb', (c) => c.notNull())
    .addColumn('slo_endpoints', 'jsonb', (c) => c.notNull())
    .addColumn('authn_requests_signed', 'boolean', (c) => c.notNull())
    .addColumn('want_assertions_signed', 'boolean', (c) => c.notNull())
    .addColumn('signing_certificates', sql`text[]`, (c) => c.notNull())
    .addColumn('encryption_certificates', sql`text[]`, (c) => c.notNull())
    .addColumn('name_id_format', 'text', (c) => c.notNull())
    .addColumn('attribute_mapping', 'jsonb', (c) => c.notNull())
    .addColumn('sign_assertions', 'boolean', (c) => c.notNull())
    .addColumn('encrypt_assertions', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('saml_service_providers_organization_idx').on('saml_service_providers').column('organization_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('saml_service_providers').ifExists().execute();
}
