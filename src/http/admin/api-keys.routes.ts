import Router from '@koa/router';
import { apiKeyIdParams, createApiKeyBody, updateApiKeyBody } from '../../admin/api-key.schema.js';
import type { ApiKeyAdminService } from '../../admin/api-key-admin.service.js';
import { caller, granter, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';
import { page } from './page.js';

/** API keys: managing them is `admin` work, within the calling key's organisation and scopes. */
export function apiKeyRoutes(keys: ApiKeyAdminService): Router {
  const router = new Router({ prefix: '/api-keys' });
  router.use(requireScope('admin'));

  router.post('/', async (ctx) => {
    const created = await keys.create(validate(createApiKeyBody, body(ctx)), granter(ctx));
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = created;
  });
  router.get('/', async (ctx) => {
    const { limit, offset } = validate(page, ctx.query);
    ctx.body = { api_keys: await keys.list(limit, offset, caller(ctx)), limit, offset };
  });
  router.get('/:id', async (ctx) => {
    ctx.body = await keys.get(validate(apiKeyIdParams, ctx.params).id, caller(ctx));
  });
  router.patch('/:id', async (ctx) => {
    ctx.body = await keys.update(validate(apiKeyIdParams, ctx.params).id, validate(updateApiKeyBody, body(ctx)), granter(ctx));
  });
  router.delete('/:id', async (ctx) => {
    await keys.revoke(validate(apiKeyIdParams, ctx.params).id, caller(ctx));
    ctx.status = 204;
  });
  return router;
}
