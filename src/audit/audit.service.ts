import type { Logger } from '../lib/logger.js';
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
    async record(e) {
      await repo.append(e);
      logger.info({ audit: e.type, outcome: e.outcome, subject: e.subject, actor: e.actor }, 'audit');
    },
  };
}
