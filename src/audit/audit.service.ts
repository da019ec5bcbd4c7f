import type { Logger } from '../lib/logger.js';
import { requestScope } from '../lib/request-scope.js';
import type { AuditEventRepository, AuditRecord } from '../store/repositories/audit-event.repository.js';

/** Event names follow `<area>.<noun>.<past-verb>`. */
export type AuditType =
  | 'authn.login.succeeded' | 'authn.login.failed' | 'authn.account.locked'
  | 'admin.client.created' | 'admin.client.updated' | 'admin.client.deleted'
  | 'admin.user.created' | 'admin.apikey.created' | 'admin.keys.rotated'
  | (string & {});

export interface AuditService {
  record(e: AuditRecord & { type: AuditType }): Promise<void>;
}

export function createAuditService(repo: AuditEventRepository, logger: Logger): AuditService {
  return {
    async record(given) {
      // What the caller did not say is taken from the request it runs in, so that one login's
      // events (password, factors, finish) can be read together (OWASP ASVS 5 16.2.1).
      const scope = requestScope();
      const e = { ...given, requestId: given.requestId ?? scope?.requestId, ip: given.ip ?? scope?.ip, clientId: given.clientId ?? scope?.clientId };
      await repo.append(e);
      logger.info({ audit: e.type, outcome: e.outcome, subject: e.subject, actor: e.actor, requestId: e.requestId, ip: e.ip, clientId: e.clientId }, 'audit');
    },
  };
}
