import type { AuditService } from '../audit/audit.service.js';
import { reaches, type Caller, type OrgScope } from '../admin/changed-by.js';
import { randomToken, type SecretBox } from '../lib/crypto.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import type { WebhookDeliveryRow, WebhookSubscriptionRow } from '../store/database.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { WebhookRepository } from '../store/repositories/webhook.repository.js';
import { SEALED } from './events.js';
import { checkTargetUrl, type TargetRules } from './target.js';
import type { CreateWebhookInput, UpdateWebhookInput } from './webhook.schema.js';

export interface WebhookSubscriptionServiceDeps {
  repo: WebhookRepository;
  organizations: Pick<OrganizationRepository, 'findById'>;
  box: SecretBox;
  audit: AuditService;
  clock: { now(): number };
  rules: TargetRules;
  /** Something was put back on the queue. */
  kick?: () => void;
  /** Subscriptions changed: what is wanted must be read again. */
  changed?: () => void;
}

export const subscriptionView = (s: WebhookSubscriptionRow) => ({
  id: s.id,
  url: s.url,
  events: s.events,
  organization: s.organizationId,
  description: s.description,
  enabled: s.enabled,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

/** A delivery as the log shows it: the payload as sent, unless it carries a bearer value (then stored sealed, and not shown). */
export const deliveryView = (d: WebhookDeliveryRow) => ({
  id: d.id,
  event: d.eventType,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.lastStatusCode,
  last_error: d.lastError,
  last_attempt_at: d.lastAttemptAt?.toISOString() ?? null,
  next_attempt_at: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
  created_at: d.createdAt.toISOString(),
  payload: SEALED in d.payload ? null : d.payload,
});

/** The signing secret: shown once, when made; stored sealed. */
const newSecret = () => `whsec_${randomToken(32)}`;

const cursorOf = (d: WebhookDeliveryRow) => Buffer.from(JSON.stringify([d.createdAt.toISOString(), d.id])).toString('base64url');
function parseCursor(cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw badRequest('cursor: not a cursor this API gave out');
  }
}

/**
 * The webhook subscriptions API. A key bound to an organisation sees and changes only its
 * organisation's subscriptions; any other answers 404 like an absent one.
 */
export function createWebhookSubscriptionService(deps: WebhookSubscriptionServiceDeps) {
  const { repo, audit } = deps;
  const visible = (orgId: string | null, scope: OrgScope) => scope.organizationId === null || (orgId !== null && reaches(scope, orgId));

  async function find(id: string, scope: OrgScope): Promise<WebhookSubscriptionRow> {
    const s = await repo.findSubscription(id);
    if (!s || !visible(s.organizationId, scope)) throw notFound('no such webhook');
    return s;
  }

  async function organizationFor(requested: string | undefined, scope: OrgScope): Promise<string | null> {
    if (scope.organizationId !== null) {
      if (requested !== undefined && requested !== scope.organizationId) throw notFound('no such organization');
      return scope.organizationId;
    }
    if (requested === undefined) return null;
    if (!(await deps.organizations.findById(requested))) throw notFound('no such organization');
    return requested;
  }

  const record = (type: string, s: WebhookSubscriptionRow, by: Caller, data: Record<string, unknown> = {}) => {
    deps.changed?.();
    return audit.record({ type, outcome: 'success', ...by, organizationId: s.organizationId, data: { webhook_id: s.id, ...data } });
  };

  return {
    async create(input: CreateWebhookInput, by: Caller) {
      const url = checkTargetUrl(input.url, deps.rules).href;
      const organizationId = await organizationFor(input.organization, by);
      const secret = newSecret();
      const s = await repo.createSubscription({
        organizationId,
        url,
        events: input.events,
        description: input.description ?? null,
        enabled: input.enabled ?? true,
        secretSealed: deps.box.seal(secret),
      });
      await record('admin.webhook.created', s, by, { events: s.events });
      return { ...subscriptionView(s), secret };
    },

    async list(scope: Caller) {
      return (await repo.listSubscriptions(scope.organizationId ?? undefined)).map(subscriptionView);
    },

    async get(id: string, scope: Caller) {
      return subscriptionView(await find(id, scope));
    },

    async update(id: string, input: UpdateWebhookInput, by: Caller) {
      await find(id, by);
      const url = input.url === undefined ? undefined : checkTargetUrl(input.url, deps.rules).href;
      const s = await repo.updateSubscription(
        id,
        {
          ...(url !== undefined ? { url } : {}),
          ...(input.events ? { events: input.events } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        },
        new Date(deps.clock.now()),
      );
      if (!s) throw notFound('no such webhook');
      await record('admin.webhook.updated', s, by, { fields: Object.keys(input) });
      if (input.enabled) deps.kick?.();
      return subscriptionView(s);
    },

    async remove(id: string, by: Caller) {
      const s = await find(id, by);
      if (!(await repo.deleteSubscription(id))) throw notFound('no such webhook');
      await record('admin.webhook.deleted', s, by);
    },

    /** A new signing secret, shown once; deliveries from now on are signed with it. */
    async rotateSecret(id: string, by: Caller) {
      await find(id, by);
      const secret = newSecret();
      const s = await repo.updateSubscription(id, { secretSealed: deps.box.seal(secret) }, new Date(deps.clock.now()));
      if (!s) throw notFound('no such webhook');
      await record('admin.webhook.secret_rotated', s, by);
      return { ...subscriptionView(s), secret };
    },

    async deliveries(id: string, query: { limit?: number; cursor?: string }, scope: Caller) {
      await find(id, scope);
      const limit = query.limit ?? 50;
      const rows = await repo.listDeliveries(id, limit + 1, parseCursor(query.cursor));
      const page = rows.slice(0, limit);
      return { deliveries: page.map(deliveryView), next_cursor: rows.length > limit ? cursorOf(page[page.length - 1]!) : null };
    },

    /** A finished delivery is sent again with a fresh schedule; one still pending is a 409. */
    async redeliver(id: string, deliveryId: string, by: Caller) {
      const s = await find(id, by);
      const d = await repo.redeliver(id, deliveryId, new Date(deps.clock.now()));
      if (!d) {
        if (await repo.findDelivery(id, deliveryId)) throw conflict('the delivery is still pending');
        throw notFound('no such delivery');
      }
      await record('admin.webhook.redelivered', s, by, { delivery_id: d.id });
      deps.kick?.();
      return deliveryView(d);
    },
  };
}

export type WebhookSubscriptionService = ReturnType<typeof createWebhookSubscriptionService>;
