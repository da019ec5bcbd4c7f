import Router from '@koa/router';
import { createWebhookBody, deliveryIdParams, deliveryListQuery, updateWebhookBody, webhookIdParams } from '../../webhooks/webhook.schema.js';
import type { WebhookSubscriptionService } from '../../webhooks/subscription.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

/** Webhook subscriptions and their delivery log: `idp:read` to read, `idp:write` to change. */
export function webhookRoutes(webhooks: WebhookSubscriptionService): Router {
  const router = new Router({ prefix: '/webhooks' });

  router.post('/', requireScope('idp:write'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await webhooks.create(validate(createWebhookBody, body(ctx)), caller(ctx));
  });
  router.get('/', requireScope('idp:read'), async (ctx) => {
    ctx.body = { webhooks: await webhooks.list(caller(ctx)) };
  });
  router.get('/:id', requireScope('idp:read'), async (ctx) => {
    ctx.body = await webhooks.get(validate(webhookIdParams, ctx.params).id, caller(ctx));
  });
  router.patch('/:id', requireScope('idp:write'), async (ctx) => {
    ctx.body = await webhooks.update(validate(webhookIdParams, ctx.params).id, validate(updateWebhookBody, body(ctx)), caller(ctx));
  });
  router.delete('/:id', requireScope('idp:write'), async (ctx) => {
    await webhooks.remove(validate(webhookIdParams, ctx.params).id, caller(ctx));
    ctx.status = 204;
  });
  router.post('/:id/rotate-secret', requireScope('idp:write'), async (ctx) => {
    ctx.body = await webhooks.rotateSecret(validate(webhookIdParams, ctx.params).id, caller(ctx));
  });
  router.get('/:id/deliveries', requireScope('idp:read'), async (ctx) => {
    ctx.body = await webhooks.deliveries(validate(webhookIdParams, ctx.params).id, validate(deliveryListQuery, ctx.query), caller(ctx));
  });
  router.post('/:id/deliveries/:deliveryId/redeliver', requireScope('idp:write'), async (ctx) => {
    const { id, deliveryId } = validate(deliveryIdParams, ctx.params);
    ctx.body = await webhooks.redeliver(id, deliveryId, caller(ctx));
  });
  return router;
}
