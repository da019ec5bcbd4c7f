import Router from '@koa/router';
import type { PromptWebhookService } from '../../admin/prompt-webhook.service.js';
import { z } from '../../lib/zod.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';

/** `PUT|GET|DELETE /organizations/{slug}/prompt-webhook` (admin): where an organisation's app receives prompts. */
export function promptWebhookRoutes(service: PromptWebhookService, allowLoopbackHttp: boolean): Router {
  const schema = z.strictObject({
    url: z
      .url()
      .max(2048)
      .refine((u) => u.startsWith('https://') || (allowLoopbackHttp && /^http:\/\/127\.0\.0\.1(:\d+)?\//.test(u)), 'must be an https URL'),
    // A MAC key: at least 256 bits of it when written as hex or base64.
    secret: z.string().min(32).max(256),
  });
  const router = new Router({ prefix: '/organizations/:org/prompt-webhook' });
  router.get('/', requireScope('admin'), async (ctx) => {
    ctx.body = await service.get(ctx.params.org!, caller(ctx));
  });
  router.put('/', requireScope('admin'), async (ctx) => {
    await service.put(ctx.params.org!, validate(schema, body(ctx)), caller(ctx));
    ctx.status = 204;
  });
  router.delete('/', requireScope('admin'), async (ctx) => {
    await service.remove(ctx.params.org!, caller(ctx));
    ctx.status = 204;
  });
  return router;
}
