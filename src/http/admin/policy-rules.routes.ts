import Router from '@koa/router';
import { createRuleBody, ruleIdParams, simulateBody, updateRuleBody } from '../../admin/policy-rule.schema.js';
import type { PolicyRuleService } from '../../admin/policy-rule.service.js';
import { body, validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

/** Sign-in rules (`/policy/rules`) and the simulator (`/policy/simulate`): changes and simulations need the admin scope. */
export function policyRuleRoutes(rules: PolicyRuleService): Router {
  const router = new Router({ prefix: '/policy' });

  router.post('/rules', requireScope('admin'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await rules.create(validate(createRuleBody, body(ctx)), caller(ctx));
  });
  router.get('/rules', requireScope('admin'), async (ctx) => {
    ctx.body = { rules: await rules.list(caller(ctx)) };
  });
  router.get('/rules/:id', requireScope('admin'), async (ctx) => {
    ctx.body = await rules.get(validate(ruleIdParams, ctx.params).id, caller(ctx));
  });
  router.patch('/rules/:id', requireScope('admin'), async (ctx) => {
    ctx.body = await rules.update(validate(ruleIdParams, ctx.params).id, validate(updateRuleBody, body(ctx)), caller(ctx));
  });
  router.delete('/rules/:id', requireScope('admin'), async (ctx) => {
    await rules.remove(validate(ruleIdParams, ctx.params).id, caller(ctx));
    ctx.status = 204;
  });
  router.post('/simulate', requireScope('admin'), async (ctx) => {
    ctx.body = await rules.simulate(validate(simulateBody, body(ctx)), caller(ctx));
  });
  return router;
}
