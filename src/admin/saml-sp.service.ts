import { X509Certificate } from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import { parseSpMetadata, SpMetadataError, type SpMetadata } from '../saml/sp-metadata.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { SamlServiceProvider, SamlServiceProviderRecord, SamlServiceProviderRepository } from '../store/repositories/saml-service-provider.repository.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';
import type { CreateSamlSpInput, UpdateSamlSpInput } from './saml-sp.schema.js';

export interface SamlSpServiceDeps {
  providers: SamlServiceProviderRepository;
  organizations: OrganizationRepository;
  audit: AuditService;
}

function certificateView(pem: string) {
  const cert = new X509Certificate(pem);
  return { fingerprint_sha256: cert.fingerprint256, subject: cert.subject, not_after: new Date(cert.validTo).toISOString() };
}

/** The service provider as the API shows it: what its metadata says, and how the IdP answers it. */
export function samlSpView(sp: SamlServiceProvider) {
  const endpoint = (e: SamlServiceProvider['acsEndpoints'][number]) => ({
    binding: e.binding,
    location: e.location,
    ...(e.responseLocation ? { response_location: e.responseLocation } : {}),
    ...(e.index !== undefined ? { index: e.index, is_default: e.isDefault ?? false } : {}),
  });
  return {
    id: sp.id,
    entity_id: sp.entityId,
    acs_endpoints: sp.acsEndpoints.map(endpoint),
    slo_endpoints: sp.sloEndpoints.map(endpoint),
    authn_requests_signed: sp.authnRequestsSigned,
    want_assertions_signed: sp.wantAssertionsSigned,
    signing_certificates: sp.signingCertificates.map(certificateView),
    encryption_certificates: sp.encryptionCertificates.map(certificateView),
    name_id_format: sp.nameIdFormat,
    attribute_mapping: sp.attributeMapping,
    sign_assertions: sp.signAssertions,
    encrypt_assertions: sp.encryptAssertions,
    enabled: sp.enabled,
    created_at: sp.createdAt.toISOString(),
    updated_at: sp.updatedAt.toISOString(),
  };
}

async function parse(text: string): Promise<SpMetadata> {
  try {
    return await parseSpMetadata(text);
  } catch (err) {
    if (err instanceof SpMetadataError) throw badRequest(err.message);
    throw err;
  }
}

/** Settings the metadata must be able to honour, checked on every change of either. */
function assertConsistent(md: SpMetadata, record: Pick<SamlServiceProviderRecord, 'signAssertions' | 'encryptAssertions'>) {
  if (record.encryptAssertions && !md.encryptionCertificates.length) throw badRequest('encrypt_assertions: the metadata has no encryption certificate');
  if (!record.signAssertions && md.wantAssertionsSigned) throw badRequest('sign_assertions: the metadata says WantAssertionsSigned="true"');
}

const fromMetadata = (text: string, md: SpMetadata) => ({
  entityId: md.entityId,
  metadata: text,
  acsEndpoints: md.acs,
  sloEndpoints: md.slo,
  authnRequestsSigned: md.authnRequestsSigned,
  wantAssertionsSigned: md.wantAssertionsSigned,
  signingCertificates: md.signingCertificates,
  encryptionCertificates: md.encryptionCertificates,
});

export function createSamlSpService(deps: SamlSpServiceDeps) {
  const { providers } = deps;

  /** The SP, when the caller may see it; another organisation's SP is as absent as an unknown one. */
  async function find(id: string, scope: OrgScope): Promise<SamlServiceProvider> {
    const sp = await providers.find(id);
    if (!sp || !reaches(scope, sp.organizationId)) throw notFound('no such service provider');
    return sp;
  }

  const taken = (entityId: string) => conflict(`entity ID ${entityId} is already registered`);

  return {
    async create(input: CreateSamlSpInput, by: Caller) {
      const md = await parse(input.metadata);
      const organizationId = by.organizationId ?? (await deps.organizations.ensure('default')).id;
      const record: SamlServiceProviderRecord = {
        ...fromMetadata(input.metadata, md),
        organizationId,
        nameIdFormat: input.name_id_format ?? 'persistent',
        attributeMapping: input.attribute_mapping ?? {},
        signAssertions: input.sign_assertions ?? true,
        encryptAssertions: input.encrypt_assertions ?? false,
        enabled: input.enabled ?? true,
      };
      assertConsistent(md, record);
      const sp = await providers.insert(record);
      if (!sp) throw taken(md.entityId);
      await deps.audit.record({ type: 'admin.saml_sp.created', outcome: 'success', ...by, subject: sp.id, organizationId, data: { entity_id: sp.entityId } });
      return samlSpView(sp);
    },

    get: async (id: string, scope: OrgScope) => samlSpView(await find(id, scope)),

    list: async (limit: number, offset: number, scope: OrgScope) => (await providers.list(limit, offset, scope.organizationId)).map(samlSpView),

    async update(id: string, input: UpdateSamlSpInput, by: Caller) {
      const current = await find(id, by);
      const text = input.metadata ?? current.metadata;
      const md = await parse(text);
      const record: SamlServiceProviderRecord = {
        ...fromMetadata(text, md),
        organizationId: current.organizationId,
        nameIdFormat: input.name_id_format ?? current.nameIdFormat,
        attributeMapping: input.attribute_mapping ?? current.attributeMapping,
        signAssertions: input.sign_assertions ?? current.signAssertions,
        encryptAssertions: input.encrypt_assertions ?? current.encryptAssertions,
        enabled: input.enabled ?? current.enabled,
      };
      assertConsistent(md, record);
      const sp = await providers.update(id, record);
      if (!sp) throw (await providers.find(id)) ? taken(md.entityId) : notFound('no such service provider');
      await deps.audit.record({
        type: 'admin.saml_sp.updated',
        outcome: 'success',
        ...by,
        subject: id,
        organizationId: current.organizationId,
        data: { fields: Object.keys(input), entity_id: sp.entityId, ...(sp.entityId !== current.entityId ? { previous_entity_id: current.entityId } : {}) },
      });
      return samlSpView(sp);
    },

    async remove(id: string, by: Caller) {
      const { organizationId, entityId } = await find(id, by);
      if (!(await providers.delete(id))) throw notFound('no such service provider');
      await deps.audit.record({ type: 'admin.saml_sp.deleted', outcome: 'success', ...by, subject: id, organizationId, data: { entity_id: entityId } });
    },
  };
}

export type SamlSpService = ReturnType<typeof createSamlSpService>;
