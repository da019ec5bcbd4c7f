import type { AuditService } from '../audit/audit.service.js';
import { randomToken, type SecretBox } from '../lib/crypto.js';
import { IdpError, badRequest, notFound, conflict } from '../lib/errors.js';
import { validateClientMetadata } from '../oidc/client-metadata.js';
import type { ProviderHolder } from '../oidc/provider-holder.js';
import { assertRegisteredMethods } from '../policy/settings.service.js';
import type { MfaMethod } from '../policy/types.js';
import type { ClientRecord, ClientRepository } from '../store/repositories/client.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';
import type { CreateClientInput, UpdateClientInput } from './client.schema.js';

export interface ClientServiceDeps {
  clients: ClientRepository;
  organizations: OrganizationRepository;
  box: SecretBox;
  providers: ProviderHolder;
  audit: AuditService;
  /** The methods a factor plug-in is registered for: a client's mfa_policy may name no other. */
  methods: readonly MfaMethod[];
  /** Told of every change so this node's client cache drops the old metadata at once. */
  changed?: (clientId: string) => void;
}

const PROTOCOL_FIELDS = [
  'client_name',
  'logo_uri',
  'client_uri',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'token_endpoint_auth_method',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'jwks_uri',
  'rotate_refresh_tokens',
] as const;

/** The client as the API shows it; the secret only when just created or rotated. */
export function clientView(record: ClientRecord, secret?: string) {
  return {
    client_id: record.clientId,
    ...record.metadata,
    first_party: record.firstParty,
    mfa_policy: record.mfaPolicy,
    ...(secret ? { client_secret: secret } : {}),
  };
}

export function createClientService(deps: ClientServiceDeps) {
  const { clients, box } = deps;

  const needsSecret = (m: Record<string, unknown>) => m.token_endpoint_auth_method !== 'none' && m.token_endpoint_auth_method !== 'private_key_jwt';

  /** The provider's own validator decides, so a stored client can never fail at login time. */
  async function validateMetadata(clientId: string, metadata: Record<string, unknown>, secret?: string) {
    try {
      await validateClientMetadata(deps.providers, { ...metadata, client_id: clientId, ...(secret ? { client_secret: secret } : {}) });
    } catch (err) {
      const e = err as { error_description?: string; message?: string };
      throw new IdpError('invalid_client_metadata', e.error_description ?? e.message ?? 'invalid client metadata');
    }
  }

  /** The code flow sends the user back to a registered URI; a client_credentials-only client needs none. */
  function assertRedirectUris(metadata: Record<string, unknown>) {
    const uris = metadata.redirect_uris as string[] | undefined;
    if ((metadata.grant_types as string[]).includes('authorization_code') && !uris?.length) {
      throw badRequest('redirect_uris: at least one is required for the authorization_code grant');
    }
  }

  /** The client, when the caller may see it; another organisation's client is as absent as an unknown one. */
  async function find(clientId: string, scope: OrgScope): Promise<ClientRecord> {
    const record = await clients.find(clientId);
    if (!record || !reaches(scope, record.organizationId)) throw notFound('no such client');
    return record;
  }

  const pick = (input: Record<string, unknown>) => Object.fromEntries(PROTOCOL_FIELDS.filter((f) => input[f] !== undefined).map((f) => [f, input[f]]));

  return {
    async create(input: CreateClientInput, by: Caller) {
      assertRegisteredMethods(input.mfa_policy, deps.methods, 'mfa_policy');
      const clientId = input.client_id ?? randomToken(16);
      const metadata: Record<string, unknown> = {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...pick(input),
      };
      assertRedirectUris(metadata);
      const secret = needsSecret(metadata) ? (input.client_secret ?? randomToken(32)) : undefined;
      await validateMetadata(clientId, metadata, secret);
      const organizationId = by.organizationId ?? (await deps.organizations.ensure('default')).id;
      const record: ClientRecord = {
        clientId,
        metadata,
        clientSecretSealed: secret ? box.seal(secret) : null,
        firstParty: input.first_party ?? false,
        mfaPolicy: input.mfa_policy ?? null,
        organizationId,
      };
      if (!(await clients.insert(record))) throw conflict(`client_id ${clientId} is already registered`);
      deps.changed?.(clientId);
      await deps.audit.record({ type: 'admin.client.created', outcome: 'success', ...by, subject: clientId, organizationId });
      return clientView(record, secret);
    },

    get: async (clientId: string, scope: OrgScope) => clientView(await find(clientId, scope)),

    list: async (limit: number, offset: number, scope: OrgScope) => (await clients.list(limit, offset, scope.organizationId)).map((r) => clientView(r)),

    async update(clientId: string, input: UpdateClientInput, by: Caller) {
      const record = await find(clientId, by);
      assertRegisteredMethods(input.mfa_policy, deps.methods, 'mfa_policy');
      const metadata = { ...record.metadata, ...pick(input) };
      assertRedirectUris(metadata);
      let secret: string | undefined;
      if (input.client_secret || input.rotate_secret || (needsSecret(metadata) && !record.clientSecretSealed)) {
        secret = input.client_secret ?? randomToken(32);
      }
      const sealed = !needsSecret(metadata) ? null : secret ? box.seal(secret) : record.clientSecretSealed;
      await validateMetadata(clientId, metadata, secret ?? (sealed ? box.open(sealed) : undefined));
      const next: ClientRecord = {
        ...record,
        metadata,
        clientSecretSealed: sealed,
        firstParty: input.first_party ?? record.firstParty,
        mfaPolicy: input.mfa_policy === undefined ? record.mfaPolicy : input.mfa_policy,
      };
      await clients.update(clientId, next);
      deps.changed?.(clientId);
      await deps.audit.record({
        type: 'admin.client.updated',
        outcome: 'success',
        ...by,
        subject: clientId,
        organizationId: record.organizationId,
        data: { fields: Object.keys(input) },
      });
      return clientView(next, secret);
    },

    async remove(clientId: string, by: Caller) {
      const { organizationId } = await find(clientId, by);
      if (!(await clients.delete(clientId))) throw notFound('no such client');
      deps.changed?.(clientId);
      await deps.audit.record({ type: 'admin.client.deleted', outcome: 'success', ...by, subject: clientId, organizationId });
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
