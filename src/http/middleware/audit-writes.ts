import type { Middleware } from 'koa';
import type { AuditService } from '../../audit/audit.service.js';

/**
 * The audit events of one request are stored together in one statement, before the response goes
 * out. Also when the request failed (a refused login is audited, then answered with an error); if
 * the write fails, that failure is the answer (a 503 for a store outage), never a lost event.
 * Runs inside the request scope and inside the error handler.
 */
export function auditWrites(audit: Pick<AuditService, 'hold' | 'flush'>): Middleware {
  return async (_ctx, next) => {
    audit.hold();
    try {
      await next();
    } finally {
      await audit.flush();
    }
  };
}
