import type { AuditService } from '../audit/audit.service.js';
import type { SecretBox } from '../lib/crypto.js';
import { badRequest, notFound } from '../lib/errors.js';
import type { DeliveryProviderRow, DeliveryRow } from '../store/database.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';
import type { DeliveryProviderFields, DeliveryProviderRepository } from '../store/repositories/delivery-provider.repository.js';
import type { DeliveryRepository } from '../store/repositories/delivery.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import { SECRET_FIELD, twilioConfig, webhookConfig, type CreateProviderInput, type UpdateProviderInput } from './provider.schema.js';

/** An API caller: who, from where, and the organisation its key is bound to (null: all). */
export type ProviderCaller = Pick<AuditRecord, 'actor' | 'ip' | 'requestId'> & { organizationId: string | null };

/** A provider as the API shows it: its settings without the secret, which is only said to be there. */
export function providerView(p: DeliveryProviderRow) {
  return {
    id: p.id,
    type: p.type,
    name: p.name,
    channels: p.channels,
    priority: p.priority,
    enabled: p.enabled,
    organization: p.organizationId,
    config: p.config,
    has_secret: p.secretSealed.length > 0,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

export function deliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    organization: d.organizationId,
    user_id: d.accountId,
    destination_id: d.destinationId,
    channel: d.channel,
    provider: d.provider,
    provider_id: d.providerId,
    status: d.status,
    provider_message_id: d.providerMessageId,
    error: d.error,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

const CONFIG_SCHEMA = { twilio: twilioConfig, webhook: webhookConfig } as const;

/** The stored (non-secret) settings and the secret, from a validated config. */
function split(type: DeliveryProviderRow['type'], config: Record<string, unknown>) {
  const { [SECRET_FIELD[type]]: secret, ...rest } = config;
  return { config: rest, secret: secret as string };
}

/** A voice call needs a number to call from; a messaging service only sends SMS. */
function assertCanCall(type: DeliveryProviderRow['type'], channels: readonly string[], config: Record<string, unknown>): void {
  if (type === 'twilio' && channels.includes('voice') && !(typeof config.from === 'string' && config.from.startsWith('+')))
    throw badRequest('config.from: a provider for voice calls needs an E.164 number to call from');
}

/**
 * The delivery providers API. An organisation-bound key sees and changes only its organisation's
 * providers; the global ones (used by every organisation after its own) belong to unbound keys.
 */
export function createProviderAdminService(deps: {
  providers: DeliveryProviderRepository;
  deliveries: Pick<DeliveryRepository, 'list'>;
  organizations: Pick<OrganizationRepository, 'findById'>;
  box: SecretBox;
  audit: AuditService;
}) {
  const { providers, audit } = deps;
  const visible = (orgId: string | null, scope: { organizationId: string | null }) => scope.organizationId === null || orgId === scope.organizationId;

  async function find(id: string, scope: { organizationId: string | null }): Promise<DeliveryProviderRow> {
    const row = await providers.find(id);
    if (!row || !visible(row.organizationId, scope)) throw notFound('no such delivery provider');
    return row;
  }

  async function organizationFor(requested: string | null | undefined, scope: { organizationId: string | null }): Promise<string | null> {
    if (scope.organizationId !== null) {
      if (requested != null && requested !== scope.organizationId) throw notFound('no such organization');
      return scope.organizationId;
    }
    if (requested == null) return null;
    if (!(await deps.organizations.findById(requested))) throw notFound('no such organization');
    return requested;
  }

  const changed = (type: string, by: ProviderCaller, row: DeliveryProviderRow, data: Record<string, unknown> = {}) =>
    audit.record({
      type,
      outcome: 'success',
      ...by,
      subject: row.id,
      organizationId: row.organizationId ?? undefined,
      data: { name: row.name, provider: row.type, ...data },
    });

  return {
    async create(input: CreateProviderInput, by: ProviderCaller) {
      assertCanCall(input.type, input.channels, input.config);
      const { config, secret } = split(input.type, input.config);
      const fields: DeliveryProviderFields = {
        organizationId: await organizationFor(input.organization, by),
        type: input.type,
        name: input.name,
        channels: input.channels,
        priority: input.priority,
        enabled: input.enabled ?? true,
        config,
        secretSealed: deps.box.seal(secret),
      };
      const row = await providers.create(fields);
      await changed('admin.delivery_provider.created', by, row, { channels: row.channels, priority: row.priority });
      return providerView(row);
    },

    list: async (scope: { organizationId: string | null }) => (await providers.list()).filter((r) => visible(r.organizationId, scope)).map(providerView),

    get: async (id: string, scope: { organizationId: string | null }) => providerView(await find(id, scope)),

    async update(id: string, input: UpdateProviderInput, by: ProviderCaller) {
      const row = await find(id, by);
      const fields: Partial<DeliveryProviderFields> = {
        name: input.name,
        channels: input.channels,
        priority: input.priority,
        enabled: input.enabled,
      };
      let config = row.config;
      if (input.config) {
        // The stored secret stands unless a new one is given; the merged whole is checked like a new one.
        const merged = CONFIG_SCHEMA[row.type].safeParse({ ...row.config, [SECRET_FIELD[row.type]]: deps.box.open(row.secretSealed), ...input.config });
        if (!merged.success) {
          const issue = merged.error.issues[0]!;
          const field = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
          throw badRequest(`config.${field.map(String).join('.')}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
        }
        const parts = split(row.type, merged.data);
        config = parts.config;
        fields.config = parts.config;
        if (SECRET_FIELD[row.type] in input.config) fields.secretSealed = deps.box.seal(parts.secret);
      }
      assertCanCall(row.type, input.channels ?? row.channels, config);
      const updated = (await providers.update(id, fields)) ?? row;
      await changed('admin.delivery_provider.updated', by, updated, {
        fields: Object.keys(input).filter((k) => k !== 'config'),
        config: Object.keys(input.config ?? {}),
      });
      return providerView(updated);
    },

    async remove(id: string, by: ProviderCaller) {
      const row = await find(id, by);
      if (!(await providers.remove(id))) throw notFound('no such delivery provider');
      await changed('admin.delivery_provider.deleted', by, row);
    },

    /** Delivery attempts, newest first: never a number, an address or a code (none is stored). */
    deliveries: async (query: { user_id?: string; limit: number }, scope: { organizationId: string | null }) =>
      (await deps.deliveries.list({ accountId: query.user_id, organizationId: scope.organizationId, limit: query.limit })).map(deliveryView),
  };
}

export type ProviderAdminService = ReturnType<typeof createProviderAdminService>;
