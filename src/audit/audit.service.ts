import type { Logger } from '../lib/logger.js';
import { requestScope, type RequestScope } from '../lib/request-scope.js';
import type { AuditEventRepository, AuditRecord } from '../store/repositories/audit-event.repository.js';

/** Event names follow `<area>.<noun>.<past-verb>`. */
export type AuditType =
  | 'authn.login.succeeded'
  | 'authn.login.failed'
  | 'authn.account.locked'
  | 'admin.client.created'
  | 'admin.client.updated'
  | 'admin.client.deleted'
  | 'admin.user.created'
  | 'admin.apikey.created'
  | 'admin.apikey.updated'
  | 'admin.apikey.revoked'
  | 'admin.keys.rotated'
  | 'admin.saml_keys.rotated'
  | 'admin.api_key.used'
  | 'admin.audit_events.exported'
  | 'risk.sentinel.assessed'
  | (string & {});

export interface AuditService {
  /**
   * Inside a request whose events are held (`hold`), the event joins them; elsewhere (CLI, timers)
   * it is stored at once.
   */
  record(e: AuditRecord & { type: AuditType }): Promise<void>;
  /** From here until `flush`, the current request's events are held, to be stored in one statement. */
  hold(): void;
  /**
   * Stores the events the current request holds, and stops holding. Awaited before the response
   * goes out, so a failed write fails the request instead of losing the events.
   */
  flush(): Promise<void>;
  /**
   * Calls `listener` with every event once it is stored (security notifications, event webhooks).
   * A listener that throws is logged and never fails the request or the other listeners.
   */
  subscribe(listener: AuditListener): void;
}

/** Told of stored events; must be quick (enqueue work, don't do it). */
export type AuditListener = (events: readonly AuditRecord[]) => Promise<void>;

export function createAuditService(repo: AuditEventRepository, logger: Logger): AuditService {
  const held = new WeakMap<RequestScope, AuditRecord[]>();
  const listeners: AuditListener[] = [];
  const store = async (events: AuditRecord[]) => {
    await repo.append(events);
    for (const e of events)
      logger.info({ audit: e.type, outcome: e.outcome, subject: e.subject, actor: e.actor, requestId: e.requestId, ip: e.ip, clientId: e.clientId }, 'audit');
    await Promise.all(listeners.map((l) => l(events).catch((err: unknown) => logger.error({ err }, 'an audit listener failed'))));
  };
  return {
    async record(given) {
      // What the caller did not say is taken from the request it runs in, so that one login's
      // events (password, factors, finish) can be read together (OWASP ASVS 5 16.2.1).
      const scope = requestScope();
      const e = {
        ...given,
        at: given.at ?? new Date(),
        actor: given.actor ?? scope?.actor,
        requestId: given.requestId ?? scope?.requestId,
        ip: given.ip ?? scope?.ip,
        clientId: given.clientId ?? scope?.clientId,
      };
      const events = scope && held.get(scope);
      if (events) events.push(e);
      else await store([e]);
    },
    hold() {
      const scope = requestScope();
      if (scope && !held.has(scope)) held.set(scope, []);
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    async flush() {
      const scope = requestScope();
      const events = scope && held.get(scope);
      if (!events) return;
      // Work the request left running records on its own from now on.
      held.delete(scope);
      await store(events);
    },
  };
}
