import { Readable } from 'node:stream';
import Router from '@koa/router';
import { auditFilterQuery, auditListQuery } from '../../admin/audit-event.schema.js';
import type { AuditTrailService } from '../../admin/audit-trail.service.js';
import { validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

export function auditEventRoutes(trail: AuditTrailService): Router {
  const router = new Router({ prefix: '/audit-events' });

  router.get('/', requireScope('idp:read'), async (ctx) => {
    ctx.body = await trail.list(validate(auditListQuery, ctx.query), caller(ctx));
  });
  router.get('/verify', requireScope('admin'), async (ctx) => {
    ctx.body = await trail.verify(caller(ctx));
  });
  router.get('/export', requireScope('admin'), async (ctx) => {
    const lines = await trail.export(validate(auditFilterQuery, ctx.query), caller(ctx));
    ctx.type = 'application/x-ndjson';
    ctx.body = Readable.from(lines);
  });
  return router;
}
