import Router from '@koa/router';
import type { Context } from 'koa';
import type { LoginService } from '../../authn/login.service.js';
import type { MfaService } from '../../authn/mfa.service.js';
import type { MfaMethod } from '../../policy/types.js';
import type { Config } from '../../config.js';
import { IdpError } from '../../lib/errors.js';
import type { LoginRequest } from '../../authn/login-request.js';
import { body, validate } from '../middleware/body.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { exchange, type InteractionKit } from './interaction-context.js';
import { loginBody, reauthBody } from './interaction.schema.js';
import { respondStep } from './respond.js';

export interface InteractionRouteDeps {
  kit: InteractionKit;
  login: LoginService;
  mfa: MfaService;
  limiter: RateLimiter;
  config: Pick<Config, 'rateLimit' | 'issuer'>;
}

/** The method whose enrolment page a browser asked for (`?enroll=`), among those this login offers; the first by default. */
function chosenEnrolment(ctx: Context, offered: readonly MfaMethod[]): MfaMethod {
  const asked = ctx.query.enroll;
  if (asked === undefined) return offered[0]!;
  const method = offered.find((m) => m === asked);
  if (!method) throw new IdpError('invalid_method', 'that method cannot be set up in this sign-in');
  return method;
}

export function interactionRoutes(deps: InteractionRouteDeps): Router {
  const { kit, mfa } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  /** Where this login stands: the protocol's prompt, refined by our MFA transaction. */
  async function currentStep(ctx: Context, request: LoginRequest) {
    if (request.prompt !== 'login') return { step: request.prompt };
    const tx = await mfa.transactions.get(request.uid);
    if (tx) return { step: tx.stage, methods: tx.methods };
    if (request.stepUp && request.session) {
      const outcome = await mfa.beginStepUp({
        uid: request.uid,
        origin: request.origin,
        accountId: request.session.accountId,
        ...(await kit.protocolOf(request).sessionFacts(request)),
        clientId: request.clientId,
        requestedAal: request.requestedAal,
        ...kit.meta(ctx),
      });
      const methods = outcome.kind === 'mfa' || outcome.kind === 'enroll' ? outcome.methods : undefined;
      const step = outcome.kind === 'mfa' || outcome.kind === 'enroll' || outcome.kind === 'reauth' ? outcome.kind : 'login';
      return { step, methods, outcome };
    }
    return { step: 'login' };
  }

  router.get('/', async (ctx) => {
    const request = wantsJson(ctx) ? await kit.load(ctx) : await kit.loadPage(ctx);
    if (!request) return;
    const { step, methods, outcome } = await currentStep(ctx, request);
    if (outcome && (outcome.kind === 'finish' || outcome.kind === 'deny')) return kit.respondOutcome(ctx, request, outcome);
    if (wantsJson(ctx)) {
      ctx.body = {
        uid: request.uid,
        step,
        client_id: request.clientId,
        ...(methods?.length ? { methods } : {}),
        ...(step === 'enroll' ? { allowed_methods: methods } : {}),
      };
      return;
    }
    // The backup codes of a first factor have a page of their own, which shows them once.
    if (step === 'backup_codes') {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${request.uid}/backup-codes`);
    }
    // What the form post before this GET left to show (its error, the name typed), else the step as it stands.
    if (await kit.renderFlash(ctx, request, step)) return;
    if (step === 'enroll' && methods?.length) return kit.renderEnrolment(ctx, request, chosenEnrolment(ctx, methods), methods);
    if (step === 'mfa' || step === 'enroll') return kit.respondOutcome(ctx, request, { kind: step, methods: methods ?? [] });
    if (step === 'trust_device' || step === 'reauth' || step === 'password_change') return kit.respondOutcome(ctx, request, { kind: step });
    await kit.render(ctx, request, step === 'consent' ? 'consent' : 'login');
  });

  /** The password through the login service (rate limit, lockout, one error for every failure); browsers get the form again. */
  async function checkPassword(ctx: Context, request: LoginRequest, username: string, password: string, page: Record<string, unknown>) {
    await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.config.rateLimit.loginPerIpPerMinute, 60);
    try {
      return await deps.login.passwordLogin({ username, password, ip: ctx.ip, requestId: ctx.state.requestId });
    } catch (err) {
      if (err instanceof IdpError && err.error === 'invalid_credentials' && !wantsJson(ctx)) {
        ctx.status = 401;
        // One answer for a wrong password and a locked account (no account enumeration, OWASP ASVS 2.2.1).
        await kit.render(ctx, request, 'login', { errorKey: 'login:error.invalid_credentials', field: 'password', username, ...page });
        return undefined;
      }
      throw err;
    }
  }

  router.post('/login', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    if (await mfa.transactions.get(request.uid)) throw new IdpError('invalid_step', 'the password step of this interaction is already done');
    const input = validate(loginBody, body(ctx));
    const user = await checkPassword(ctx, request, input.username, input.password, {});
    if (!user) return;
    const outcome = await mfa.afterPassword({
      uid: request.uid,
      origin: request.origin,
      user,
      clientId: request.clientId,
      requestedAal: request.requestedAal,
      ...(input.remember_me ? { rememberMe: true } : {}),
      ...kit.meta(ctx),
    });
    await kit.respondOutcome(ctx, request, outcome);
  });

  /** The session's password again, for the account of this interaction only (its name is not taken from the browser). */
  router.post('/reauth', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    const username = await mfa.reauthUsername(request.uid);
    const { password } = validate(reauthBody, body(ctx));
    const user = await checkPassword(ctx, request, username, password, { reauth: true });
    if (!user) return;
    await kit.respondOutcome(ctx, request, await mfa.reauthenticated({ uid: request.uid, user, requestedAal: request.requestedAal, ...kit.meta(ctx) }));
  });

  router.post('/consent', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'consent');
    respondStep(ctx, { status: 'success', redirect_to: await kit.protocolOf(request).consent(exchange(ctx), request) });
  });

  router.post('/abort', async (ctx) => {
    const request = await kit.loadForPost(ctx);
    await mfa.transactions.clear(request.uid);
    respondStep(ctx, { status: 'aborted', redirect_to: await kit.protocolOf(request).abort(exchange(ctx), request) });
  });

  return router;
}
