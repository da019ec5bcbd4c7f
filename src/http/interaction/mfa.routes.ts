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

/** The method a start names, in a body that may be anything. */
const channelOf = (input: unknown) => (input && typeof input === 'object' && 'channel' in input ? input.channel : undefined);

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
      const outcome = await run();
      if (outcome.kind === 'pending') await pending(ctx, request, factor, outcome.shown);
      else await kit.respondOutcome(ctx, request, outcome);
    } catch (err) {
      if (wantsJson(ctx) || !(err instanceof IdpError) || err.error !== 'invalid_code') throw err;
      ctx.status = 401;
      await again(refusal(factor));
    }
  }

  /** What a browser is told of a refused response, by the kind of response the method takes. */
  const refusal = (factor: Factor) =>
    factor.challenge?.waiting
      ? 'The sign-in was not approved on your device. Send a new prompt.'
      : factor.descriptor.phishingResistant
        ? 'That passkey was not accepted. Try again.'
        : factor.descriptor.amr.includes('kba')
          ? 'Those answers were not accepted. Try again.'
          : 'That code is not valid. Try again.';

  /** An answer not in yet (a prompt on a device): JSON clients poll again; a form gets the challenge page with how it stands. */
  async function pending(ctx: Context, request: LoginRequest, factor: Factor, shown: Record<string, unknown>) {
    if (wantsJson(ctx)) {
      ctx.body = shown;
      return;
    }
    const tx = await mfa.transactions.get(request.uid);
    await kit.render(ctx, request, 'mfa', { methods: tx?.methods ?? [], started: { method: factor.descriptor.method, ...shown } });
  }

  /** The challenge page with the methods this login offers. */
  const challengePage = (ctx: Context, request: LoginRequest) => async (error: string) => {
    const tx = await mfa.transactions.get(request.uid);
    await kit.render(ctx, request, 'mfa', { methods: tx?.methods ?? [], error });
  };

  // One challenge endpoint per registered method; a method that issues a challenge first has a start and an answer.
  for (const factor of deps.factors.filter((f) => !f.challenge)) {
    const {
      paths,
      descriptor: { method },
    } = factor;
    router.post(`/mfa/${paths.challenge}`, async (ctx) => {
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
  }

  // Methods with a challenge step, by challenge path: methods sharing one (codes by SMS, voice or email) are told apart by `channel` at the start.
  const byPath = new Map<string, Factor[]>();
  for (const f of deps.factors.filter((f) => f.challenge)) byPath.set(f.paths.challenge, [...(byPath.get(f.paths.challenge) ?? []), f]);
  for (const [path, group] of byPath) {
    const first = group[0]!;
    const finish = first.paths.finish ?? 'finish';
    router.post(finish ? `/mfa/${path}/${finish}` : `/mfa/${path}`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      // A challenge answered elsewhere (a prompt) is polled: the request carries no response.
      const code = first.challenge?.waiting ? undefined : responseOf(ctx);
      const target = group.length > 1 ? { path } : { method: first.descriptor.method };
      await answer(
        ctx,
        request,
        first,
        () => mfa.verify({ uid: request.uid, ...target, code, requestedAal: request.requestedAal, ...kit.meta(ctx) }),
        challengePage(ctx, request),
      );
    });
    router.post(`/mfa/${path}/${first.paths.begin ?? 'begin'}`, async (ctx) => {
      const request = await kit.loadForPost(ctx, 'login');
      const input = body(ctx);
      const factor = group.length > 1 ? group.find((f) => f.descriptor.method === channelOf(input)) : first;
      if (!factor) throw new IdpError('invalid_method', `channel must be one of ${group.map((f) => f.descriptor.method).join(', ')}`);
      const shown = await mfa.startChallenge({ uid: request.uid, method: factor.descriptor.method, input, requiredAal: request.requestedAal, ip: ctx.ip });
      if (wantsJson(ctx)) {
        ctx.body = shown;
        return;
      }
      // A browser without script posted a form: the challenge page again, with what the start gave for the method's form.
      const tx = await mfa.transactions.get(request.uid);
      await kit.render(ctx, request, 'mfa', { methods: tx?.methods ?? [], started: { method: factor.descriptor.method, ...shown } });
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
