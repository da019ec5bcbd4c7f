import Router from '@koa/router';
import { findReachable } from '../../admin/user.service.js';
import type { DestinationService } from '../../authn/one-time-codes/destinations.service.js';
import { notFound } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';
import type { AccountRepository } from '../../store/repositories/account.repository.js';
import { UUID } from '../../store/repositories/account.repository.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';

/** Exactly one of `phone` or `email`; `verified: true` when the platform vouches for it (no code is sent then). */
const destinationBody = z
  .object({ phone: z.string().max(64).optional(), email: z.string().max(320).optional(), verified: z.boolean().optional() })
  .strict()
  .refine((b) => (b.phone === undefined) !== (b.email === undefined), 'give exactly one of phone or email');

/** A user's phone numbers and e-mail addresses for one-time codes, through the admin API. */
export function userDestinationRoutes(deps: { destinations: DestinationService; accounts: Pick<AccountRepository, 'findById'> }): Router {
  const { destinations } = deps;
  const router = new Router({ prefix: '/users/:id/destinations' });
  const via = (ctx: Parameters<typeof caller>[0]) => {
    const by = caller(ctx);
    return { actor: by.actor ?? 'unknown', ip: by.ip ?? undefined, requestId: by.requestId ?? undefined, via: 'platform_api' as const };
  };
  const destinationId = (raw: string | undefined) => {
    if (!raw || !UUID.test(raw)) throw notFound('no such destination');
    return raw;
  };

  router.get('/', requireScope('idp:read'), async (ctx) => {
    const user = await findReachable(deps.accounts, ctx.params.id!, caller(ctx));
    ctx.body = { destinations: await destinations.list(user.id) };
  });
  router.post('/', requireScope('idp:write'), async (ctx) => {
    const input = validate(destinationBody, body(ctx));
    const user = await findReachable(deps.accounts, ctx.params.id!, caller(ctx));
    const kind = input.phone !== undefined ? 'phone' : 'email';
    ctx.status = 201;
    ctx.body = await destinations.add(user, kind, (input.phone ?? input.email)!, via(ctx), { verified: input.verified === true });
  });
  router.get('/:destId', requireScope('idp:read'), async (ctx) => {
    const user = await findReachable(deps.accounts, ctx.params.id!, caller(ctx));
    ctx.body = await destinations.get(user.id, destinationId(ctx.params.destId));
  });
  // An administrator may remove the last one (a lost phone): the policy asks the user to enrol again.
  router.delete('/:destId', requireScope('idp:write'), async (ctx) => {
    const user = await findReachable(deps.accounts, ctx.params.id!, caller(ctx));
    await destinations.remove(user, destinationId(ctx.params.destId), via(ctx), async () => {});
    ctx.status = 204;
  });
  return router;
}
