import Router from '@koa/router';
import { createUserBody, listUsersQuery, profileQuery, resetFactorsBody, temporaryPasswordBody, updateUserBody } from '../../admin/user.schema.js';
import type { UserRecoveryService } from '../../admin/user-recovery.service.js';
import type { UserService } from '../../admin/user.service.js';
import { body, validate } from '../middleware/body.js';
import { assertScope, caller, requireScope } from '../middleware/admin-auth.js';

/**
 * Users: create, list and search, read, change, disable, delete; and account recovery (factor
 * reset, temporary password). Roles are privileges: naming them takes the `admin` scope, so a key
 * cannot grant more than it holds.
 */
export function userRoutes(users: UserService, recovery: UserRecoveryService): Router {
  const router = new Router({ prefix: '/users' });

  router.post('/', requireScope('idp:write'), async (ctx) => {
    const { user: input } = validate(createUserBody, body(ctx));
    if (input.roles?.length) assertScope(ctx, 'admin');
    const user = await users.create(input, caller(ctx));
    ctx.status = 201;
    ctx.body = { user: { id: user.id, external_id: user.externalId, status: user.status, name: user.name, locale: user.locale } };
  });
  router.get('/', requireScope('idp:read'), async (ctx) => {
    ctx.body = await users.list(validate(listUsersQuery, ctx.query), caller(ctx));
  });
  router.get('/profile', requireScope('idp:read'), async (ctx) => {
    ctx.body = await users.profile(validate(profileQuery, ctx.query).externalUserId, caller(ctx));
  });
  router.get('/:id', requireScope('idp:read'), async (ctx) => {
    ctx.body = { user: await users.get(ctx.params.id!, caller(ctx)) };
  });
  router.patch('/:id', requireScope('idp:write'), async (ctx) => {
    const { user: input } = validate(updateUserBody, body(ctx));
    if (input.roles !== undefined) assertScope(ctx, 'admin');
    ctx.body = { user: await users.update(ctx.params.id!, input, caller(ctx)) };
  });
  router.delete('/:id', requireScope('idp:write'), async (ctx) => {
    await users.remove(ctx.params.id!, caller(ctx));
    ctx.status = 204;
  });
  router.post('/:id/factors/reset', requireScope('idp:write'), async (ctx) => {
    const { method } = validate(resetFactorsBody, body(ctx));
    ctx.body = await recovery.resetFactors(ctx.params.id!, method, caller(ctx));
  });
  router.post('/:id/temporary-password', requireScope('idp:write'), async (ctx) => {
    validate(temporaryPasswordBody, body(ctx));
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = await recovery.temporaryPassword(ctx.params.id!, caller(ctx));
  });
  return router;
}
