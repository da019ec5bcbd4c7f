import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import { MFA_METHODS } from '../../policy/types.js';
import type { RecoveryMeta, RecoveryService } from '../../recovery/recovery.service.js';
import { recoveryCancelBody, recoveryConfirmBody, recoveryEnrolBody, recoveryStartBody } from '../../recovery/recovery.schema.js';
import { body, validate } from '../middleware/body.js';
import { responseOf } from '../middleware/factor-response.js';
import type { RateLimiter } from '../middleware/rate-limit.js';

const idParam = z.uuid();
const methodParam = z.enum(MFA_METHODS);

/** Starts per address per 15 minutes: enough for a person, too few to probe accounts or flood mailboxes. */
const STARTS_PER_IP = 30;

const meta = (ctx: Context): RecoveryMeta => ({ ip: ctx.ip, requestId: ctx.state.requestId });

/**
 * `/api/v1/recovery/…`: recovery when every factor is lost, for someone who cannot sign in. No
 * route here answers with a session or a token that signs in.
 */
export function recoveryRoutes(deps: { recovery: RecoveryService; limiter: RateLimiter; answersPerIpPerMinute: number }): Router {
  const { recovery, limiter } = deps;
  const router = new Router({ prefix: '/api/v1/recovery' });
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  // Answers (confirm, cancel, enrolment) per address: guessing is limited per request too.
  const answer = (ctx: Context) => limiter.hit(`recovery-answer:${ctx.ip}`, deps.answersPerIpPerMinute, 60);

  router.post('/start', async (ctx) => {
    await limiter.hit(`recovery-start:${ctx.ip}`, STARTS_PER_IP, 900);
    const input = validate(recoveryStartBody, body(ctx));
    ctx.status = 202;
    ctx.body = recovery.start(input, meta(ctx));
  });

  router.post('/:id/confirm', async (ctx) => {
    await answer(ctx);
    const id = validate(idParam, ctx.params.id);
    const input = validate(recoveryConfirmBody, body(ctx));
    ctx.body = await recovery.confirm(id, 'token' in input ? input.token : input.code, meta(ctx));
  });

  router.post('/:id/cancel', async (ctx) => {
    await answer(ctx);
    const id = validate(idParam, ctx.params.id);
    ctx.body = await recovery.cancel(id, validate(recoveryCancelBody, body(ctx)).token, meta(ctx));
  });

  router.post('/:id/enroll/:method/begin', async (ctx) => {
    await answer(ctx);
    const id = validate(idParam, ctx.params.id);
    const method = validate(methodParam, ctx.params.method);
    const { request_token } = validate(recoveryEnrolBody, body(ctx));
    ctx.body = await recovery.beginEnrolment(id, request_token, method, meta(ctx));
  });

  router.post('/:id/enroll/:method/confirm', async (ctx) => {
    await answer(ctx);
    const id = validate(idParam, ctx.params.id);
    const method = validate(methodParam, ctx.params.method);
    const { request_token } = validate(recoveryEnrolBody, body(ctx));
    ctx.body = await recovery.confirmEnrolment(id, request_token, method, responseOf(ctx), meta(ctx));
  });

  return router;
}
