import Router from '@koa/router';
import type { Context } from 'koa';
import type { FactorManagementService } from '../../authn/self-service.service.js';
import type { DestinationService } from '../../authn/one-time-codes/destinations.service.js';
import type { DestinationKind } from '../../authn/one-time-codes/destination.js';
import { notFound } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';
import type { MfaMethod } from '../../policy/types.js';
import { UUID } from '../../store/repositories/account.repository.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { responseOf } from '../middleware/factor-response.js';
import { principalOf } from './authenticate.js';
import { changeContext, freshUser } from './factors.routes.js';

const phoneBody = z.object({ phone: z.string().max(64) });
const emailBody = z.object({ email: z.string().max(320) });

/** The collections: `phones` and `emails` hold their own kind, `destinations` both. */
const COLLECTIONS: readonly [string, DestinationKind | undefined][] = [
  ['phones', 'phone'],
  ['emails', 'email'],
  ['destinations', undefined],
];
const METHODS: Record<DestinationKind, readonly MfaMethod[]> = { phone: ['sms', 'voice'], email: ['email'] };

export interface DestinationRouteDeps {
  destinations: DestinationService;
  factors: FactorManagementService;
  limiter: RateLimiter;
  codesPerUserPerMinute: number;
}

/** Some method the destination gives must be allowed by the policy. */
async function assertKindAllowed(ctx: Context, factors: FactorManagementService, kind: DestinationKind) {
  const { user } = principalOf(ctx);
  const results = await Promise.allSettled(METHODS[kind].map((m) => factors.assertMethodAllowed(user, m)));
  if (results.some((r) => r.status === 'fulfilled')) return;
  throw (results[0] as PromiseRejectedResult).reason;
}

/** Adds a destination, to be verified with the code it is sent: a method the policy allows, a fresh session. */
export async function addDestinationIn(ctx: Context, deps: Pick<DestinationRouteDeps, 'destinations' | 'factors'>, kind: DestinationKind, value: string) {
  await assertKindAllowed(ctx, deps.factors, kind);
  const user = await freshUser(ctx, deps.factors);
  return deps.destinations.add(user, kind, value, changeContext(ctx));
}

/** The code came back from the new destination: it is verified, and a second factor proven in this session. */
export async function verifyDestinationIn(ctx: Context, deps: DestinationRouteDeps, id: string, code: unknown) {
  const p = principalOf(ctx);
  await deps.limiter.hit(`mfa-code:${p.user.id}`, deps.codesPerUserPerMinute, 60);
  const user = await freshUser(ctx, deps.factors);
  const { destination, event } = await deps.destinations.verify(user, id, code, changeContext(ctx));
  await deps.factors.recordMfaProof(p.sessionUid, event);
  return destination;
}

/** Removes a destination; a session signed in (or stepped up) with it ends with it. */
export async function removeDestinationIn(ctx: Context, deps: Pick<DestinationRouteDeps, 'destinations' | 'factors'>, id: string) {
  const user = await freshUser(ctx, deps.factors);
  const mintedWithIt = (await principalOf(ctx).freshness()).events.some((e) => e.credentialId === id);
  const context = { ...changeContext(ctx), ...(mintedWithIt ? { keepSessionUid: undefined } : {}) };
  await deps.destinations.remove(user, id, context, (k) => deps.factors.assertRemovable(user, k));
}

/**
 * The user's own phone numbers and e-mail addresses for one-time codes. Adding one is a new
 * authenticator binding: a fresh second factor (or a fresh first sign-in for a first factor) and a
 * method the policy allows, like any other factor change.
 */
export function destinationRoutes(deps: DestinationRouteDeps): Router {
  const { destinations } = deps;
  const router = new Router({ prefix: '/mfa' });

  /** The destination `id` names, when it is the user's and of the collection's kind. */
  async function owned(ctx: Context, kind: DestinationKind | undefined) {
    const id = ctx.params.id!;
    if (!UUID.test(id)) throw notFound('no such destination');
    const found = await destinations.get(principalOf(ctx).user.id, id);
    if (kind && found.type !== kind) throw notFound('no such destination');
    return found;
  }

  router.get('/destinations', async (ctx) => {
    ctx.body = { destinations: await destinations.list(principalOf(ctx).user.id) };
  });

  const add = (kind: DestinationKind, read: (ctx: Context) => string) => async (ctx: Context) => {
    const value = read(ctx);
    ctx.body = await addDestinationIn(ctx, deps, kind, value);
    ctx.status = 201;
  };
  router.post(
    '/phones',
    add('phone', (ctx) => validate(phoneBody, body(ctx)).phone),
  );
  router.post(
    '/emails',
    add('email', (ctx) => validate(emailBody, body(ctx)).email),
  );

  for (const [collection, kind] of COLLECTIONS) {
    router.get(`/${collection}/:id`, async (ctx) => {
      ctx.body = await owned(ctx, kind);
    });
    router.post(`/${collection}/:id/resend`, async (ctx) => {
      const found = await owned(ctx, kind);
      ctx.body = await destinations.resend(principalOf(ctx).user, found.id);
    });
    router.post(`/${collection}/:id/verify`, async (ctx) => {
      const code = responseOf(ctx);
      const found = await owned(ctx, kind);
      ctx.body = await verifyDestinationIn(ctx, deps, found.id, code);
    });
    router.delete(`/${collection}/:id`, async (ctx) => {
      const found = await owned(ctx, kind);
      await removeDestinationIn(ctx, deps, found.id);
      ctx.status = 204;
    });
  }

  return router;
}
