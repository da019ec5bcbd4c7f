import Router from '@koa/router';
import { createUserBody, profileQuery } from '../../admin/user.schema.js';
import type { UserService } from '../../admin/user.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

export function userRoutes(users: UserService): Router {
  const router = new Router({ prefix: '/users' });

  router.post('/', requireScope('idp:write'), async (ctx) => {
    const { user: input } = validate(createUserBody, body(ctx));
    const user = await users.create(input, caller(ctx));
    ctx.status = 201;
    ctx.body = { user: { id: user.id, external_id: user.externalId, status: user.status } };
  });
  router.get('/profile', requireScope('idp:read'), async (ctx) => {
    ctx.body = await users.profile(validate(profileQuery, ctx.query).externalUserId, caller(ctx));
  });
  return router;
}
