import Router from '@koa/router';
import type { RecoveryAdminService } from '../../recovery/recovery-admin.service.js';
import { z } from '../../lib/zod.js';
import { validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

const idParam = z.uuid();

/** A user's recovery requests as administrators see them, and their cancellation. */
export function recoveryRequestRoutes(admin: RecoveryAdminService): Router {
  const router = new Router({ prefix: '/users/:id/recovery-requests' });

  router.get('/', requireScope('idp:read'), async (ctx) => {
    ctx.body = await admin.list(ctx.params.id!, caller(ctx));
  });

  router.delete('/:requestId', requireScope('idp:write'), async (ctx) => {
    await admin.cancel(ctx.params.id!, validate(idParam, ctx.params.requestId), caller(ctx));
    ctx.status = 204;
  });

  return router;
}
