import Router from '@koa/router';
import type { StepWebhookService } from '../../webhooks/step.service.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { InteractionKit } from './interaction-context.js';

/**
 * The browser's side of MFA steps run through the organisation's app: it polls here (the first poll
 * sends the step to the platform) and, once the platform's answer decided, finishes the login in
 * its own request.
 */
export function stepWebhookRoutes(deps: { kit: InteractionKit; steps: StepWebhookService }): Router {
  const { kit } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  router.post('/mfa/step/status', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    const result = await deps.steps.status({ uid: request.uid, requestedAal: request.requestedAal, ...kit.meta(ctx) });
    if ('outcome' in result) return kit.respondOutcome(ctx, request, result.outcome);
    if (!wantsJson(ctx)) return kit.render(ctx, request, 'mfa-step');
    ctx.body = { status: 'pending', method: result.pending.method, message: 'Continue in your app' };
  });
  return router;
}
