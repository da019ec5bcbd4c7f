import type { AuditService } from '../audit/audit.service.js';
import { notFound, conflict } from '../lib/errors.js';
import type { Organization } from '../store/database.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { CreateOrganizationInput } from './organization.schema.js';
import { assertReachesAll, reaches, type Caller, type OrgScope } from './changed-by.js';

export interface OrganizationServiceDeps {
  organizations: OrganizationRepository;
  audit: AuditService;
}

/** The organisation as the API shows it (its settings have their own endpoint). */
export const organizationView = (o: Organization) => ({
  id: o.id,
  slug: o.slug,
  name: o.name,
  created_at: o.createdAt.toISOString(),
});

export function createOrganizationService(deps: OrganizationServiceDeps) {
  const { organizations, audit } = deps;
  return {
    async create(input: CreateOrganizationInput, by: Caller) {
      assertReachesAll(by, 'create organizations');
      if (await organizations.findBySlug(input.slug)) throw conflict(`organization ${input.slug} already exists`);
      const org = await organizations.ensure(input.slug, input.name ?? input.slug);
      await audit.record({ type: 'admin.organization.created', outcome: 'success', ...by, subject: org.id, organizationId: org.id, data: { slug: org.slug } });
      return organizationView(org);
    },
    async get(slug: string, scope: OrgScope) {
      const org = await organizations.findBySlug(slug);
      if (!org || !reaches(scope, org.id)) throw notFound('no such organization');
      return organizationView(org);
    },
  };
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;
