import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import type { Factor } from '../../authn/factor.js';
import type { MfaMethod } from '../../policy/types.js';
import type { ChangeContext, FactorManagementService } from '../../authn/self-service.service.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { responseOf } from '../middleware/factor-response.js';
import { principalOf } from './authenticate.js';

const idParam = z.uuid();
const renameBody = z.object({ name: z.string().trim().min(1).max(64) });

export interface FactorRouteDeps {
  factors: FactorManagementService;
  /** The registered methods: each gets the routes under /mfa/{manage path} that its plug-in provides. */
  plugins: readonly Factor[];
  limiter: RateLimiter;
  /** Shown by authenticator apps next to the account: the name of the user's organisation. */
  issuerName(organizationId: string): Promise<string>;
  codesPerUserPerMinute: number;
}

export const changeContext = (ctx: Context): ChangeContext => {
  const { user, sessionUid } = principalOf(ctx);
  return { actor: `user:${user.id}`, via: 'self_service', ip: ctx.ip, requestId: ctx.state.requestId, keepSessionUid: sessionUid };
};

/** Every change needs a fresh sign-in (first factor) or a fresh second factor (step-up). */
export async function freshUser(ctx: Context, factors: Pick<FactorManagementService, 'assertFresh'>) {
  const p = principalOf(ctx);
  await factors.assertFresh(p.user, await p.freshness());
  return p.user;
}

/** Setting a method up, changing or removing it: the policy must allow the method, the session must be fresh. */
export async function allowedAndFreshUser(ctx: Context, factors: FactorManagementService, method: MfaMethod) {
  await factors.assertMethodAllowed(principalOf(ctx).user, method);
  return freshUser(ctx, factors);
}

/**
 * Confirms the session's pending enrolment of `method` with its first response, which then counts as
 * the session's proof of the new factor; answers the new credential where the method lists them.
 */
export async function confirmEnrolmentIn(ctx: Context, deps: FactorRouteDeps, method: MfaMethod, response: unknown) {
  const { factors } = deps;
  const p = principalOf(ctx);
  await deps.limiter.hit(`mfa-code:${p.user.id}`, deps.codesPerUserPerMinute, 60);
  const user = await freshUser(ctx, factors);
  const event = await factors.confirmEnrolment(user, method, response, changeContext(ctx));
  // A first valid code just proved the new factor in this session.
  await factors.recordMfaProof(p.sessionUid, event);
  const listed = deps.plugins.find((f) => f.descriptor.method === method)?.selfService?.credentials;
  return listed && event.credentialId ? await factors.credential(user, method, event.credentialId) : undefined;
}

/** Removes one credential; a session signed in (or stepped up) with it ends with it. */
export async function removeCredentialIn(ctx: Context, factors: FactorManagementService, method: MfaMethod, id: string) {
  const user = await freshUser(ctx, factors);
  const mintedWithIt = (await principalOf(ctx).freshness()).events.some((e) => e.credentialId === id);
  await factors.removeCredential(user, method, id, { ...changeContext(ctx), ...(mintedWithIt ? { keepSessionUid: undefined } : {}) });
}

/** A valid code (or an answer to a challenge started in this session) makes the session fresh for changes; answers the method. */
export async function stepUpIn(ctx: Context, deps: Pick<FactorRouteDeps, 'factors' | 'limiter' | 'codesPerUserPerMinute'>, code: unknown) {
  const p = principalOf(ctx);
  await deps.limiter.hit(`mfa-code:${p.user.id}`, deps.codesPerUserPerMinute, 60);
  const { method, event } = await deps.factors.verifyCode(p.user, code, changeContext(ctx), { confirmPending: false });
  await deps.factors.stepUp(p.user, p.sessionUid, event, changeContext(ctx));
  return method;
}

/** The signed-in user's own factors (self-service management). */
export function factorRoutes(deps: FactorRouteDeps): Router {
  const { factors } = deps;
  const router = new Router({ prefix: '/mfa' });
  const fresh = (ctx: Context) => freshUser(ctx, factors);
  const allowedAndFresh = (ctx: Context, method: MfaMethod) => allowedAndFreshUser(ctx, factors, method);

  router.get('/', async (ctx) => {
    ctx.body = await factors.summary(principalOf(ctx).user.id);
  });

  // Each method's own routes, from what its plug-in provides.
  for (const plugin of deps.plugins) {
    const {
      paths: { manage },
      descriptor: { method },
      selfService,
      enrolment,
    } = plugin;
    if (selfService) {
      router.get(`/${manage}`, async (ctx) => {
        ctx.body = await factors.status(principalOf(ctx).user.id, method);
      });
    }

    if (selfService?.enrolmentBody && enrolment) {
      const shown = selfService.enrolmentBody.bind(selfService);
      const segments = selfService.enrolmentPaths ?? { begin: 'enroll', confirm: 'confirm' };
      router.post(`/${manage}/${segments.begin}`, async (ctx) => {
        const user = await allowedAndFresh(ctx, method);
        const issuer = await deps.issuerName(user.organizationId);
        ctx.body = shown(await factors.beginEnrolment(user, method, user.email ?? user.username ?? user.externalId, issuer, changeContext(ctx)));
      });

      router.post(`/${manage}/${segments.confirm}`, async (ctx) => {
        const created = await confirmEnrolmentIn(ctx, deps, method, responseOf(ctx));
        if (created) ctx.status = 201;
        ctx.body = created ?? { status: 'success', method };
      });
    }

    const managed = selfService?.credentials;
    if (managed) {
      router.get(`/${managed.collection}`, async (ctx) => {
        ctx.body = { [managed.collection]: await factors.listCredentials(principalOf(ctx).user, method) };
      });
      router.patch(`/${managed.collection}/:id`, async (ctx) => {
        const id = validate(idParam, ctx.params.id);
        const { name } = validate(renameBody, body(ctx));
        ctx.body = await factors.renameCredential(await fresh(ctx), method, id, name, changeContext(ctx));
      });
      router.delete(`/${managed.collection}/:id`, async (ctx) => {
        await removeCredentialIn(ctx, factors, method, validate(idParam, ctx.params.id));
        ctx.status = 204;
      });
    }

    if (plugin.challenge) {
      router.post(`/${manage}/verify/begin`, async (ctx) => {
        const p = principalOf(ctx);
        // The body says where a code goes (a destination of the account's), for a method that sends one.
        ctx.body = await factors.startVerification(p.user, p.sessionUid, method, body(ctx));
      });
    }

    if (selfService?.issue) {
      router.post(`/${manage}`, async (ctx) => {
        ctx.body = await factors.issue(await allowedAndFresh(ctx, method), method, changeContext(ctx));
      });
    }

    if (selfService?.set) {
      router.put(`/${manage}`, async (ctx) => {
        // Each set-up costs the server a password hash per answer: limited per user like codes.
        await deps.limiter.hit(`mfa-set:${principalOf(ctx).user.id}`, deps.codesPerUserPerMinute, 60);
        ctx.body = await factors.set(await allowedAndFresh(ctx, method), method, body(ctx), changeContext(ctx));
      });
    }

    if (plugin.remove) {
      router.delete(`/${manage}`, async (ctx) => {
        await factors.removeFactor(await fresh(ctx), method, changeContext(ctx));
        ctx.status = 204;
      });
    }
  }

  /** Step-up without leaving the page: a valid code (or an answer to a challenge started here) makes the session fresh for factor changes. */
  router.post('/verify', async (ctx) => {
    ctx.body = { status: 'success', method: await stepUpIn(ctx, deps, responseOf(ctx)) };
  });

  return router;
}
