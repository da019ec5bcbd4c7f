import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import type { Factor } from '../../authn/factor.js';
import type { MfaService, Outcome } from '../../authn/mfa.service.js';
import { IdpError } from '../../lib/errors.js';
import { body, validate } from '../middleware/body.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { LoginRequest } from '../../authn/login-request.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { InteractionKit } from './interaction-context.js';
import { responseOf } from '../middleware/factor-response.js';

const trustBody = z.object({
  trust: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
  name: z.string().trim().max(100).optional(),
});

export function mfaRoutes(deps: {
  kit: InteractionKit;
  mfa: MfaService;
  factors: readonly Factor[];
  issuer: string;
  limiter: RateLimiter;
  loginPerIpPerMinute: number;
}): Router {
  const { kit, mfa } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  /**
   * Browsers get the page they came from again (`again`), with a message; JSON clients get the error.
   * A method with a challenge of its own is a WebAuthn ceremony, not a typed code.
   */
  async function answer(ctx: Context, request: LoginRequest, factor: Factor, run: () => Promise<Outcome>, again: (error: string) => Promise<void>) {
    try {
      await kit.respondOutcome(ctx, request, await run());
    } catch (err) {
      if (wantsJson(ctx) || !(err instanceof IdpError) || err.error !== 'invalid_code') throw err;
      ctx.status = 401;
      await again(factor.challenge ? 'That passkey was not accepted. Try again.' : 'That code is not valid. Try again.');
    }
  }

  /** The challenge page with the methods this login offers. */
  const challengePage = (ctx: Context, request: LoginRequest) => async (error: string) => {
    const tx = await mfa.transactions.get(request.uid);
    await kit.render(ctx, request, 'mfa', { methods: tx?.methods ?? [], error });
  };

  // One challenge endpoint per registered method; a method that issues a challenge first has begin and finish.
  for (const factor of deps.factors) {
    const {
      paths,
      descriptor: { method },
    } = factor;
    router.post(factor.challenge ? `/mfa/${paths.challenge}/finish` : `/mfa/${paths.challenge}`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      const code = responseOf(ctx);
      await answer(
        ctx,
        request,
        factor,
        () => mfa.verify({ uid: request.uid, method, code, requestedAal: request.requestedAal, ...kit.meta(ctx) }),
        challengePage(ctx, request),
      );
    });
    if (!factor.challenge) continue;
    router.post(`/mfa/${paths.challenge}/begin`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      ctx.body = await mfa.startChallenge({ uid: request.uid, method, requiredAal: request.requestedAal });
    });
  }

  /** A passwordless sign-in is a first step: once the password (or a passkey) is done, it has no place. */
  async function beforeFirstStep(request: LoginRequest) {
    if (await mfa.transactions.get(request.uid)) throw new IdpError('invalid_step', 'the first step of this interaction is already done');
  }

  // Signing in without a password, for each method whose response names the account.
  for (const factor of deps.factors.filter((f) => f.passwordless)) {
    const {
      paths,
      descriptor: { method },
    } = factor;
    router.post(`/${paths.challenge}/begin`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      await beforeFirstStep(request);
      ctx.body = await mfa.startPasswordless({ uid: request.uid, method });
    });
    router.post(`/${paths.challenge}/finish`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      await beforeFirstStep(request);
      await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.loginPerIpPerMinute, 60);
      const response = responseOf(ctx);
      await answer(
        ctx,
        request,
        factor,
        () =>
          mfa.signInWithout({
            uid: request.uid,
            origin: request.origin,
            method,
            response,
            clientId: request.clientId,
            requestedAal: request.requestedAal,
            ...kit.meta(ctx),
          }),
        // No one is signed in yet: the sign-in page again, where the password works too.
        (error) => kit.render(ctx, request, 'login', { error }),
      );
    });
  }

  // Enrolment inside a login, for each method that can be set up there.
  for (const factor of deps.factors.filter((f) => f.enrolment && f.descriptor.enrollableInLogin)) {
    const {
      paths,
      descriptor: { method },
    } = factor;
    router.post(`/enroll/${paths.challenge}`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      ctx.body = (await mfa.enrollBegin(request.uid, method, deps.issuer)).shown;
    });

    router.post(`/enroll/${paths.challenge}/confirm`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      const code = responseOf(ctx);
      await answer(
        ctx,
        request,
        factor,
        () => mfa.enrollConfirm({ uid: request.uid, method, code, requestedAal: request.requestedAal, keepSessionUid: request.session?.uid, ...kit.meta(ctx) }),
        async (error) => kit.renderEnrolment(ctx, request, method, (await mfa.transactions.get(request.uid))?.methods ?? [method], { error }),
      );
    });
  }

  router.post('/trust-device', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    const input = validate(trustBody, body(ctx));
    await kit.respondOutcome(ctx, request, await mfa.trustDevice({ uid: request.uid, trust: input.trust, name: input.name, ...kit.meta(ctx) }));
  });

  return router;
}
