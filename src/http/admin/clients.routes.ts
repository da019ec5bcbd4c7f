import Router from '@koa/router';
import { clientIdParams, createClientBody, updateClientBody } from '../../admin/client.schema.js';
import type { ClientService } from '../../admin/client.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { page } from './page.js';

export function clientRoutes(clients: ClientService): Router {
  const router = new Router({ prefix: '/clients' });

  router.post('/', requireScope('admin'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await clients.create(validate(createClientBody, body(ctx)), caller(ctx));
  });
  router.get('/', requireScope('idp:read'), async (ctx) => {
    const { limit, offset } = validate(page, ctx.query);
    ctx.body = { clients: await clients.list(limit, offset, caller(ctx)), limit, offset };
  });
  router.get('/:clientId', requireScope('idp:read'), async (ctx) => {
    ctx.body = await clients.get(validate(clientIdParams, ctx.params).clientId, caller(ctx));
  });
  router.patch('/:clientId', requireScope('admin'), async (ctx) => {
    ctx.body = await clients.update(validate(clientIdParams, ctx.params).clientId, validate(updateClientBody, body(ctx)), caller(ctx));
  });
  router.delete('/:clientId', requireScope('admin'), async (ctx) => {
    await clients.remove(validate(clientIdParams, ctx.params).clientId, caller(ctx));
    ctx.status = 204;
  });
  return router;
}
