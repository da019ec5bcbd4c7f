import Router from '@koa/router';
import type { Context } from 'koa';
import type { Revoker, SessionAdminService } from '../../admin/session-admin.service.js';
import type { SsoSessions } from '../../authn/sso-session.js';
import { z } from '../../lib/zod.js';
import { validate } from '../middleware/body.js';
import { exchange } from '../interaction/interaction-context.js';
import { principalOf } from './authenticate.js';

/** `?keep_app_access=true`: the apps the user let in offline stay signed in (their grants survive the session). */
export const revokeQuery = z.strictObject({ keep_app_access: z.enum(['true', 'false']).optional() });
export const revokeOptions = (ctx: Context) => ({ keepAppAccess: validate(revokeQuery, ctx.query).keep_app_access === 'true' });

export const userRevoker = (ctx: Context): Revoker => ({ actor: `user:${principalOf(ctx).user.id}`, by: 'user', ip: ctx.ip, requestId: ctx.state.requestId });

/** Ends one of the user's sessions; ending this browser's own signs it out here too. */
export async function revokeSessionIn(
  ctx: Context,
  deps: { sessions: Pick<SessionAdminService, 'revokeOne'>; sso: Pick<SsoSessions, 'forget'> },
  id: string,
  opts: { keepAppAccess: boolean },
): Promise<void> {
  const { user, sessionUid } = principalOf(ctx);
  const { current } = await deps.sessions.revokeOne(user, id, userRevoker(ctx), opts, sessionUid);
  // The user ended the session this browser is signed in with: its cookie goes too.
  if (current) deps.sso.forget(exchange(ctx));
}

/** The signed-in user's own sessions (every browser and device) and the apps they let in offline. */
export function sessionRoutes(deps: { sessions: SessionAdminService; sso: Pick<SsoSessions, 'forget'> }): Router {
  const { sessions } = deps;
  const router = new Router({ prefix: '/me' });

  router.get('/sessions', async (ctx) => {
    const { user, sessionUid } = principalOf(ctx);
    ctx.body = { sessions: await sessions.sessions(user, sessionUid) };
  });

  router.delete('/sessions/:id', async (ctx) => {
    await revokeSessionIn(ctx, deps, ctx.params.id!, revokeOptions(ctx));
    ctx.status = 204;
  });

  router.get('/app-access', async (ctx) => {
    ctx.body = { app_access: await sessions.appAccess(principalOf(ctx).user) };
  });

  router.delete('/app-access/:clientId', async (ctx) => {
    await sessions.revokeAppAccess(principalOf(ctx).user, ctx.params.clientId!, userRevoker(ctx));
    ctx.status = 204;
  });

  return router;
}
