import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import { IdpError, badRequest, notFound } from '../lib/errors.js';
import type { ApiKeyRow } from '../store/database.js';
import type { ApiKeyRepository } from '../store/repositories/api-key.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { CreateApiKeyInput, UpdateApiKeyInput } from './api-key.schema.js';
import { grants, type ApiKeyService, type ApiScope } from './api-key.service.js';
import type { Caller, OrgScope } from './changed-by.js';

/** Who hands out or changes a key: a caller with the key it calls with (null for the CLI) and that key's scopes. */
export type Granter = Caller & { keyId: string | null; scopes: readonly string[] };

export interface ApiKeyAdminDeps {
  keys: ApiKeyService;
  repo: ApiKeyRepository;
  organizations: Pick<OrganizationRepository, 'findById'>;
  audit: AuditService;
  clock: Clock;
}

/** The key as the API shows it: never its secret, nor the secret's hash. */
export const apiKeyView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  organization_id: k.organizationId,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  expires_at: k.expiresAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

/** A key bound to an organisation sees only that organisation's keys; keys bound to none are for keys bound to none. */
const visible = (scope: OrgScope, k: ApiKeyRow) => scope.organizationId === null || k.organizationId === scope.organizationId;

/** No key hands out more than it holds (OWASP ASVS 5 V8.2: no privilege escalation through key management). */
function assertHolds(by: Granter, scopes: readonly ApiScope[]): void {
  const lacking = scopes.filter((s) => !grants(by.scopes, s));
  if (lacking.length) throw new IdpError('insufficient_scope', `scopes: this API key cannot grant ${lacking.join(', ')}, which it lacks`);
}

export function createApiKeyAdminService(deps: ApiKeyAdminDeps) {
  const { repo, audit } = deps;

  async function find(id: string, scope: OrgScope): Promise<ApiKeyRow> {
    const row = await repo.findById(id);
    if (!row || !visible(scope, row)) throw notFound('no such API key');
    return row;
  }

  async function organizationFor(input: CreateApiKeyInput, by: Granter): Promise<string | null> {
    const wanted = input.organization_id === undefined ? by.organizationId : input.organization_id;
    if (by.organizationId !== null) {
      if (wanted !== by.organizationId) throw new IdpError('insufficient_scope', 'an API key bound to an organization creates keys for that organization only');
      return wanted;
    }
    if (wanted !== null && !(await deps.organizations.findById(wanted))) throw badRequest('organization_id: unknown organization');
    return wanted;
  }

  return {
    /** The new key with its secret: the only time the secret is shown. */
    async create(input: CreateApiKeyInput, by: Granter) {
      assertHolds(by, input.scopes);
      const organizationId = await organizationFor(input, by);
      const expiresAt = input.expires_at === undefined ? null : new Date(input.expires_at);
      if (expiresAt && expiresAt.getTime() <= deps.clock.now()) throw badRequest('expires_at: must be in the future');
      const { key, row } = await deps.keys.create(input.name, input.scopes, organizationId, expiresAt);
      await audit.record({
        type: 'admin.apikey.created',
        outcome: 'success',
        ...by,
        subject: row.prefix,
        organizationId,
        data: { id: row.id, name: row.name, scopes: row.scopes, expires_at: row.expiresAt?.toISOString() ?? null },
      });
      return { ...apiKeyView(row), key };
    },

    list: async (limit: number, offset: number, scope: OrgScope) => (await repo.list(limit, offset, scope.organizationId)).map(apiKeyView),

    get: async (id: string, scope: OrgScope) => apiKeyView(await find(id, scope)),

    async update(id: string, input: UpdateApiKeyInput, by: Granter) {
      const row = await find(id, by);
      if (input.scopes) {
        if (row.id === by.keyId) throw new IdpError('insufficient_scope', 'an API key cannot change its own scopes');
        assertHolds(by, input.scopes);
      }
      if (input.name === undefined && input.scopes === undefined) return apiKeyView(row);
      const updated = (await repo.update(id, { name: input.name, scopes: input.scopes })) ?? row;
      await audit.record({
        type: 'admin.apikey.updated',
        outcome: 'success',
        ...by,
        subject: row.prefix,
        organizationId: row.organizationId,
        data: { id: row.id, fields: Object.keys(input), ...(input.scopes ? { scopes: input.scopes, previous_scopes: row.scopes } : {}) },
      });
      return apiKeyView(updated);
    },

    /** Revoked at once on every node: keys are read from the database on every request. */
    async revoke(id: string, by: Caller) {
      const row = await find(id, by);
      const revoked = await repo.revoke(id, new Date(deps.clock.now()));
      if (revoked)
        await audit.record({ type: 'admin.apikey.revoked', outcome: 'success', ...by, subject: row.prefix, organizationId: row.organizationId, data: { id } });
    },
  };
}

export type ApiKeyAdminService = ReturnType<typeof createApiKeyAdminService>;
