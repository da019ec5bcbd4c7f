import Router from '@koa/router';
import type { Context } from 'koa';
import type { FactorManagementService } from '../../authn/self-service.service.js';
import { IdpError } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';
import type { TrustedContactService } from '../../recovery/trusted-contacts.service.js';
import { recoveryApprovalBody, trustedContactsBody } from '../../recovery/recovery.schema.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { principalOf } from './authenticate.js';

const idParam = z.uuid();

/** Naming contacts or vouching for someone needs a second factor verified recently in this session. */
export async function freshMfaUser(ctx: Context, factors: Pick<FactorManagementService, 'assertFresh'>) {
  const p = principalOf(ctx);
  const f = await p.freshness();
  await factors.assertFresh(p.user, f);
  if (!f.events.some((e) => e.secondFactor))
    throw new IdpError('step_up_required', 'a second factor is needed: enrol one and verify it (POST /api/v1/mfa/verify)');
  return p.user;
}

export const recoveryMeta = (ctx: Context) => ({ ip: ctx.ip, requestId: ctx.state.requestId as string | undefined });

/**
 * The signed-in user's trusted contacts, and their decisions on others' recoveries; both need a
 * second factor verified recently in this session (a user without one cannot vouch or name contacts).
 */
export function trustedContactRoutes(deps: {
  contacts: TrustedContactService;
  factors: Pick<FactorManagementService, 'assertFresh'>;
  limiter: RateLimiter;
}): Router {
  const router = new Router({ prefix: '/me' });
  const meta = recoveryMeta;
  const freshMfa = (ctx: Context) => freshMfaUser(ctx, deps.factors);

  router.get('/trusted-contacts', async (ctx) => {
    ctx.body = await deps.contacts.list(principalOf(ctx).user);
  });

  router.put('/trusted-contacts', async (ctx) => {
    const { user_ids } = validate(trustedContactsBody, body(ctx));
    ctx.body = await deps.contacts.replace(await freshMfa(ctx), user_ids, meta(ctx));
  });

  router.post('/recovery-approvals/:requestId', async (ctx) => {
    await deps.limiter.hit(`recovery-approval:${principalOf(ctx).user.id}`, 10, 60);
    const id = validate(idParam, ctx.params.requestId);
    const { approve } = validate(recoveryApprovalBody, body(ctx));
    ctx.body = await deps.contacts.decide(await freshMfa(ctx), id, approve, meta(ctx));
  });

  return router;
}
