import type { AuditRecord } from '../store/repositories/audit-event.repository.js';

/** Who asked for a change (an API key, a signed-in user) and from where: the audit trail's side of a request. */
export type ChangedBy = Pick<AuditRecord, 'actor' | 'ip' | 'requestId'>;
