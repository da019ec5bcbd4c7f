import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { grants } from '../../admin/api-key.service.js';
import {
  breakGlassDecisionBody,
  breakGlassIdParams,
  breakGlassListQuery,
  breakGlassRequestBody,
  breakGlassReviewBody,
} from '../../admin/break-glass.schema.js';
import type { BreakGlassService, KeyCaller } from '../../admin/break-glass.service.js';
import { IdpError } from '../../lib/errors.js';
import type { ApiKeyRow } from '../../store/database.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

const keyCaller = (ctx: Context): KeyCaller => ({ ...caller(ctx), keyId: (ctx.state.apiKey as ApiKeyRow).id });

/** Reading grants is for either side of the four-eyes pair. */
const requireEitherSide: Middleware = async (ctx, next) => {
  const scopes = (ctx.state.apiKey as ApiKeyRow).scopes;
  if (!grants(scopes, 'break_glass:request') && !grants(scopes, 'break_glass:approve'))
    throw new IdpError('insufficient_scope', 'this API key lacks the break_glass:request or break_glass:approve scope');
  await next();
};

/** Emergency access (`/break-glass`): requests need `break_glass:request`; approval, denial, revocation and review `break_glass:approve`. */
export function breakGlassRoutes(service: BreakGlassService): Router {
  const router = new Router({ prefix: '/break-glass' });
  const id = (ctx: Context) => validate(breakGlassIdParams, ctx.params).id;

  router.post('/', requireScope('break_glass:request'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await service.request(validate(breakGlassRequestBody, body(ctx)), keyCaller(ctx));
  });
  router.get('/', requireEitherSide, async (ctx) => {
    ctx.body = await service.list(validate(breakGlassListQuery, ctx.query), caller(ctx));
  });
  router.get('/:id', requireEitherSide, async (ctx) => {
    ctx.body = await service.get(id(ctx), caller(ctx));
  });
  router.post('/:id/approve', requireScope('break_glass:approve'), async (ctx) => {
    validate(breakGlassDecisionBody, body(ctx));
    ctx.body = await service.approve(id(ctx), keyCaller(ctx));
  });
  router.post('/:id/deny', requireScope('break_glass:approve'), async (ctx) => {
    validate(breakGlassDecisionBody, body(ctx));
    ctx.body = await service.deny(id(ctx), keyCaller(ctx));
  });
  router.post('/:id/review', requireScope('break_glass:approve'), async (ctx) => {
    ctx.body = await service.review(id(ctx), validate(breakGlassReviewBody, body(ctx)), keyCaller(ctx));
  });
  router.delete('/:id', requireScope('break_glass:approve'), async (ctx) => {
    ctx.body = await service.revoke(id(ctx), keyCaller(ctx));
  });
  return router;
}
