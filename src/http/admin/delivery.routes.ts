import Router from '@koa/router';
import type { DeliveryStatusService } from '../../delivery/delivery-status.service.js';
import type { ProviderAdminService } from '../../delivery/provider-admin.service.js';
import { createProviderBody, deliveriesQuery, providerIdParams, updateProviderBody } from '../../delivery/provider.schema.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

/** SMS/voice providers (`/delivery-providers`) and the delivery records (`/deliveries`): `idp:write` to change, `idp:read` to read. */
export function deliveryProviderRoutes(service: ProviderAdminService): Router {
  const router = new Router();
  router.post('/delivery-providers', requireScope('idp:write'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await service.create(validate(createProviderBody, body(ctx)), caller(ctx));
  });
  router.get('/delivery-providers', requireScope('idp:read'), async (ctx) => {
    ctx.body = { providers: await service.list(caller(ctx)) };
  });
  router.get('/delivery-providers/:id', requireScope('idp:read'), async (ctx) => {
    ctx.body = await service.get(validate(providerIdParams, ctx.params).id, caller(ctx));
  });
  router.patch('/delivery-providers/:id', requireScope('idp:write'), async (ctx) => {
    ctx.body = await service.update(validate(providerIdParams, ctx.params).id, validate(updateProviderBody, body(ctx)), caller(ctx));
  });
  router.delete('/delivery-providers/:id', requireScope('idp:write'), async (ctx) => {
    await service.remove(validate(providerIdParams, ctx.params).id, caller(ctx));
    ctx.status = 204;
  });
  router.get('/deliveries', requireScope('idp:read'), async (ctx) => {
    ctx.body = { deliveries: await service.deliveries(validate(deliveriesQuery, ctx.query), caller(ctx)) };
  });
  return router;
}

/**
 * `POST /api/v1/delivery-status/{provider id}`: a provider's report on a message, authenticated by
 * the provider's own signature (`X-Twilio-Signature`, or `X-Idp-Signature` for a webhook provider),
 * not by an API key.
 */
export function deliveryStatusRoutes(status: DeliveryStatusService): Router {
  const router = new Router({ prefix: '/api/v1' });
  router.post('/delivery-status/:id', async (ctx) => {
    const { id } = validate(providerIdParams, ctx.params);
    await status.report(id, {
      rawBody: (ctx.request as { rawBody?: string }).rawBody ?? '',
      contentType: ctx.get('content-type'),
      twilioSignature: ctx.get('x-twilio-signature') || undefined,
      idpSignature: ctx.get('x-idp-signature') || undefined,
    });
    ctx.status = 204;
  });
  return router;
}
