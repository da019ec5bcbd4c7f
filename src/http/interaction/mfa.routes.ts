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
import type { Pages } from '../../i18n/pages.js';
import type { Translate } from '../../i18n/i18n.js';

const trustBody = z.object({
  trust: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
  name: z.string().trim().max(100).optional(),
});

/** "I have saved my backup codes": a checked box (a form sends `on`) or true. */
const savedBody = z.object({ saved: z.union([z.literal(true), z.enum(['on', 'true'])]) });

/** Whole minutes left of a wait in seconds, at least one: "try again in 15 minutes". */
const minutesOf = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

/** The method a start names, in a body that may be anything. */
const channelOf = (input: unknown) => (input && typeof input === 'object' && 'channel' in input ? input.channel : undefined);

export function mfaRoutes(deps: {
  kit: InteractionKit;
  mfa: MfaService;
  factors: readonly Factor[];
  issuer: string;
  limiter: RateLimiter;
  loginPerIpPerMinute: number;
  /** For the refusals a page shows, in the page's language. */
  pages: Pick<Pages, 'context'>;
  relyingParty(clientId: string): Promise<{ organizationId: string | null } | undefined>;
}): Router {
  const { kit, mfa } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  /** The texts of this login's pages: its relying party's organisation and `ui_locales`, as kit.render picks them. */
  async function translator(ctx: Context, request: LoginRequest): Promise<Translate> {
    const rp = await deps.relyingParty(request.clientId);
    return (await deps.pages.context(ctx, { organizationId: rp?.organizationId, uiLocales: request.uiLocales })).t;
  }

  /** A locked second factor ends the login: the page says for how long, and leads back to the sign-in. */
  async function lockedPage(ctx: Context, request: LoginRequest, err: IdpError) {
    const t = await translator(ctx, request);
    ctx.status = 429;
    await kit.render(ctx, request, 'mfa', {
      methods: [],
      locked: true,
      error: err.retryAfterSec ? t('mfa:locked.for', { count: minutesOf(err.retryAfterSec) }) : t('mfa:locked.later'),
    });
  }

  /**
   * Browsers get the page they came from again (`again`), with a message; JSON clients get the error.
   * A method with a challenge of its own is a WebAuthn ceremony, not a typed code.
   */
  async function answer(
    ctx: Context,
    request: LoginRequest,
    factor: Factor,
    run: () => Promise<Outcome>,
    again: (error: string, failed: string) => Promise<void>,
  ) {
    try {
      const outcome = await run();
      if (outcome.kind === 'pending') await pending(ctx, request, factor, outcome.shown);
      else if (outcome.kind === 'backup_codes') {
        // A page of its own, so that a reload asks again (and finds them shown) rather than re-posting the code.
        ctx.status = 303;
        ctx.redirect(`/interaction/${request.uid}/backup-codes`);
      } else await kit.respondOutcome(ctx, request, outcome);
    } catch (err) {
      if (wantsJson(ctx) || !(err instanceof IdpError)) throw err;
      if (err.error === 'mfa_locked') return lockedPage(ctx, request, err);
      if (err.error !== 'invalid_code') throw err;
      ctx.status = 401;
      // The path tells the page which method's field to mark (the code methods share one).
      await again((await translator(ctx, request))(refusal(factor)), factor.paths.challenge);
    }
  }

  /** What a browser is told of a refused response, by the kind of response the method takes. */
  const refusal = (factor: Factor) =>
    factor.challenge?.waiting
      ? 'mfa:refused.prompt'
      : factor.descriptor.phishingResistant
        ? 'mfa:refused.passkey'
        : factor.descriptor.amr.includes('kba')
          ? 'mfa:refused.questions'
          : 'mfa:refused.code';

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
  const challengePage = (ctx: Context, request: LoginRequest) => async (error: string, failed?: string) => {
    const tx = await mfa.transactions.get(request.uid);
    await kit.render(ctx, request, 'mfa', { methods: tx?.methods ?? [], error, failed });
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
      let shown: Record<string, unknown>;
      try {
        shown = await mfa.startChallenge({ uid: request.uid, method: factor.descriptor.method, input, requiredAal: request.requestedAal, ip: ctx.ip });
      } catch (err) {
        // A browser asking for a new code too soon gets the page again, saying how long to wait.
        if (wantsJson(ctx) || !(err instanceof IdpError) || err.error !== 'resend_too_soon') throw err;
        ctx.status = 429;
        const t = await translator(ctx, request);
        return challengePage(ctx, request)(t('mfa:otp.resend_too_soon', { count: err.retryAfterSec ?? 0 }));
      }
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
        () =>
          mfa.enrollConfirm({
            uid: request.uid,
            method,
            code,
            requestedAal: request.requestedAal,
            keepSessionUid: request.session?.uid,
            // Only a page can show the new backup codes once; API clients make them through self-service.
            showBackupCodes: !wantsJson(ctx),
            ...kit.meta(ctx),
          }),
        async (error) => kit.renderEnrolment(ctx, request, method, (await mfa.transactions.get(request.uid))?.methods ?? [method], { error }),
      );
    });
  }

  // The backup codes of a first factor: shown on the first load only; a reload says they were shown.
  router.get('/backup-codes', async (ctx) => {
    const request = await kit.load(ctx);
    if (request.prompt !== 'login') throw new IdpError('invalid_step', `this interaction is at the ${request.prompt} step`);
    await kit.render(ctx, request, 'enroll', { backupCodes: (await mfa.backupCodes(request.uid)) ?? null });
  });

  router.post('/backup-codes', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    const saved = savedBody.safeParse(body(ctx));
    if (!saved.success) {
      if (wantsJson(ctx)) throw new IdpError('invalid_request', 'saved: confirm that the backup codes are saved');
      ctx.status = 400;
      await kit.render(ctx, request, 'enroll', { backupCodes: (await mfa.backupCodes(request.uid)) ?? null, unconfirmed: true });
      return;
    }
    await kit.respondOutcome(ctx, request, await mfa.backupCodesSaved({ uid: request.uid, requestedAal: request.requestedAal, ...kit.meta(ctx) }));
  });

  router.post('/trust-device', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    const input = validate(trustBody, body(ctx));
    await kit.respondOutcome(ctx, request, await mfa.trustDevice({ uid: request.uid, trust: input.trust, name: input.name, ...kit.meta(ctx) }));
  });

  return router;
}
