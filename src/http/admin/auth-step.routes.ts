import Router from '@koa/router';
import { stepAnswerBody } from '../../webhooks/step.schema.js';
import type { StepWebhookService } from '../../webhooks/step.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

/** A platform's answer to an `auth.step` webhook, with an API key of the login's organisation. */
export function authStepRoutes(steps: StepWebhookService): Router {
  const router = new Router();
  router.post('/auth/step', requireScope('idp:write'), async (ctx) => {
    const who = caller(ctx);
    ctx.body = await steps.answer(validate(stepAnswerBody, body(ctx)), who, { ip: ctx.ip, requestId: ctx.state.requestId });
  });
  return router;
}
