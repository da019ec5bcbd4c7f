import Router from '@koa/router';
import type { Context } from 'koa';
import type { Revoker, SessionAdminService } from '../../admin/session-admin.service.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { revokeOptions } from '../self-service/sessions.routes.js';

const admin = (ctx: Context): Revoker => {
  const { actor, ip, requestId } = caller(ctx);
  return { actor: actor ?? 'apikey', by: 'admin', ip: ip ?? undefined, requestId: requestId ?? undefined };
};

/** A user's live sessions and offline app access as administrators see them, and ending them. */
export function userSessionRoutes(sessions: SessionAdminService): Router {
  const router = new Router({ prefix: '/users/:id' });
  const userOf = (ctx: Context) => sessions.userFor(caller(ctx), ctx.params.id!);

  router.get('/sessions', requireScope('idp:read'), async (ctx) => {
    ctx.body = { sessions: await sessions.sessions(await userOf(ctx)) };
  });

  router.delete('/sessions', requireScope('idp:write'), async (ctx) => {
    const opts = revokeOptions(ctx);
    await sessions.revokeAll(await userOf(ctx), admin(ctx), opts);
    ctx.status = 204;
  });

  router.delete('/sessions/:sid', requireScope('idp:write'), async (ctx) => {
    const opts = revokeOptions(ctx);
    await sessions.revokeOne(await userOf(ctx), ctx.params.sid!, admin(ctx), opts);
    ctx.status = 204;
  });

  router.get('/app-access', requireScope('idp:read'), async (ctx) => {
    ctx.body = { app_access: await sessions.appAccess(await userOf(ctx)) };
  });

  router.delete('/app-access/:clientId', requireScope('idp:write'), async (ctx) => {
    await sessions.revokeAppAccess(await userOf(ctx), ctx.params.clientId!, admin(ctx));
    ctx.status = 204;
  });

  return router;
}
