import Router from '@koa/router';
import { createSamlSpBody, samlSpIdParams, updateSamlSpBody } from '../../admin/saml-sp.schema.js';
import type { SamlSpService } from '../../admin/saml-sp.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { page } from './page.js';

export function samlServiceProviderRoutes(sps: SamlSpService): Router {
  const router = new Router({ prefix: '/saml/service-providers' });

  router.post('/', requireScope('admin'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await sps.create(validate(createSamlSpBody, body(ctx)), caller(ctx));
  });
  router.get('/', requireScope('idp:read'), async (ctx) => {
    const { limit, offset } = validate(page, ctx.query);
    ctx.body = { service_providers: await sps.list(limit, offset, caller(ctx)), limit, offset };
  });
  router.get('/:id', requireScope('idp:read'), async (ctx) => {
    ctx.body = await sps.get(validate(samlSpIdParams, ctx.params).id, caller(ctx));
  });
  router.patch('/:id', requireScope('admin'), async (ctx) => {
    ctx.body = await sps.update(validate(samlSpIdParams, ctx.params).id, validate(updateSamlSpBody, body(ctx)), caller(ctx));
  });
  router.delete('/:id', requireScope('admin'), async (ctx) => {
    await sps.remove(validate(samlSpIdParams, ctx.params).id, caller(ctx));
    ctx.status = 204;
  });
  return router;
}
