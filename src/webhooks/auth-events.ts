import type { AuditListener } from '../audit/audit.service.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';
import type { WebhookQueue } from './events.js';
import type { WebhookEvent } from './webhook.schema.js';

/** The audit events an organisation can subscribe to, by the name its webhooks carry. */
export const AUTH_EVENT_OF: Readonly<Record<string, WebhookEvent>> = {
  'authn.login.succeeded': 'login.succeeded',
  'authn.login.failed': 'login.failed',
  'authn.factor.enrolled': 'mfa.enrolled',
  'authn.device.trusted': 'device.trusted',
  'authn.account.locked': 'account.locked',
  'authn.step_up.completed': 'step_up.completed',
};

/** The facts of an audit event a receiver may see: never a code, password, token or secret (only these keys pass). */
const SHOWN = ['client_id', 'amr', 'acr', 'reason', 'reasons', 'factor', 'method', 'device_id', 'days', 'failures', 'until'] as const;

const dataOf = (e: AuditRecord): Record<string, unknown> => {
  const data: Record<string, unknown> = { user_id: e.subject, ip: e.ip ?? null };
  const clientId = e.clientId ?? e.data?.client_id;
  if (clientId !== undefined && clientId !== null) data.client_id = clientId;
  for (const k of SHOWN) if (e.data && k in e.data && k !== 'client_id') data[k] = e.data[k];
  return data;
};

/**
 * Listens to the audit trail and enqueues the auth events organisations subscribe to: one read of
 * the subscriptions that want them, one insert, nothing sent here. An event with no user (a login
 * name nobody has) is not sent; one recorded without its organisation is looked up by its user.
 */
export function authEventListener(deps: { queue: WebhookQueue; organizationOf(userId: string): Promise<string | undefined> }): AuditListener {
  return async (events) => {
    const candidates = events.filter((e) => Object.hasOwn(AUTH_EVENT_OF, e.type) && e.subject);
    const wanted = await Promise.all(candidates.map((e) => deps.queue.interested(AUTH_EVENT_OF[e.type]!)));
    const mapped = candidates.filter((_, i) => wanted[i]);
    if (!mapped.length) return;
    const out = await Promise.all(
      mapped.map(async (e) => ({
        type: AUTH_EVENT_OF[e.type]!,
        organizationId: e.organizationId ?? (await deps.organizationOf(e.subject!)) ?? null,
        resource: { type: 'user', id: e.subject! },
        data: dataOf(e),
      })),
    );
    await deps.queue.publish(out);
  };
}
