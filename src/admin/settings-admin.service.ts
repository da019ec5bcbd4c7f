import type { AuditService } from '../audit/audit.service.js';
import { assertReachesAll, reaches, type Caller, type OrgScope } from './changed-by.js';
import { notFound } from '../lib/errors.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { EffectiveSettings } from '../policy/settings.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';

export interface SettingsAdminDeps {
  settings: SettingsService;
  organizations: Pick<OrganizationRepository, 'findBySlug'>;
  audit: AuditService;
}

/**
 * The settings API: reads answer the effective values (defaults ⊕ global ⊕ organisation), writes
 * merge into one layer and are audited with what they changed (the values are policy, not secrets).
 */
export function createSettingsAdminService(deps: SettingsAdminDeps) {
  const { settings, audit } = deps;

  async function org(slug: string, scope: OrgScope) {
    const found = await deps.organizations.findBySlug(slug);
    if (!found || !reaches(scope, found.id)) throw notFound('no such organization');
    return found;
  }

  return {
    getGlobal(scope: OrgScope): Promise<EffectiveSettings> {
      assertReachesAll(scope, 'read global settings');
      return settings.effective();
    },
    async patchGlobal(input: unknown, by: Caller): Promise<EffectiveSettings> {
      assertReachesAll(by, 'change global settings');
      const effective = await settings.patchGlobal(input);
      await audit.record({ type: 'admin.settings.updated', outcome: 'success', ...by, data: { scope: 'global', changes: input } });
      return effective;
    },
    getOrganization: async (slug: string, scope: OrgScope): Promise<EffectiveSettings> => settings.effective((await org(slug, scope)).id),
    async patchOrganization(slug: string, input: unknown, by: Caller): Promise<EffectiveSettings> {
      const { id } = await org(slug, by);
      const effective = await settings.patchOrganization(slug, input);
      await audit.record({
        type: 'admin.settings.updated',
        outcome: 'success',
        ...by,
        subject: id,
        organizationId: id,
        data: { scope: `organization:${slug}`, changes: input },
      });
      return effective;
    },
  };
}

export type SettingsAdminService = ReturnType<typeof createSettingsAdminService>;
