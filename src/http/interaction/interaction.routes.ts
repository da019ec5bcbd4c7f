import Router from '@koa/router';
import type { Context } from 'koa';
import type { LoginService } from '../../authn/login.service.js';
import type { MfaService } from '../../authn/mfa.service.js';
import type { Config } from '../../config.js';
import { IdpError, badRequest } from '../../lib/errors.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import { body, validate } from '../middleware/body.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { Details, InteractionKit } from './interaction-context.js';
import { loginBody, reauthBody } from './interaction.schema.js';
import { respondStep } from './respond.js';

export interface InteractionRouteDeps {
  providers: ProviderHolder;
  kit: InteractionKit;
  login: LoginService;
  mfa: MfaService;
  limiter: RateLimiter;
  config: Pick<Config, 'rateLimit' | 'issuer'>;
}

export function interactionRoutes(deps: InteractionRouteDeps): Router {
  const { providers, kit, mfa } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const clientIdOf = (d: Details) => (d.params.client_id as string | undefined) ?? '';

  /** Where this interaction stands: the provider's prompt, refined by our MFA transaction. */
  async function currentStep(ctx: Context, details: Details) {
    if (details.prompt.name !== 'login') return { step: details.prompt.name };
    const tx = await mfa.transactions.get(details.uid);
    if (tx) return { step: tx.stage, methods: tx.methods };
    if (kit.isStepUp(details)) {
      const session = await providers.current.Session.findByUid(details.session!.uid);
      const outcome = await mfa.beginStepUp({
        uid: details.uid, accountId: details.session!.accountId, authTime: Number(session?.loginTs ?? 0), amr: session?.amr,
        clientId: clientIdOf(details), requestedAal: kit.requestedAal(details), ...kit.meta(ctx),
      });
      const methods = outcome.kind === 'mfa' || outcome.kind === 'enroll' ? outcome.methods : undefined;
      const step = outcome.kind === 'mfa' || outcome.kind === 'enroll' || outcome.kind === 'reauth' ? outcome.kind : 'login';
      return { step, methods, outcome };
    }
    return { step: 'login' };
  }

  router.get('/', async (ctx) => {
    const details = await kit.load(ctx);
    const { step, methods, outcome } = await currentStep(ctx, details);
    if (outcome && (outcome.kind === 'finish' || outcome.kind === 'deny')) return kit.respondOutcome(ctx, details, outcome);
    if (wantsJson(ctx)) {
      ctx.body = { uid: details.uid, step, client_id: clientIdOf(details), ...(methods?.length ? { methods } : {}), ...(step === 'enroll' ? { allowed_methods: methods } : {}) };
      return;
    }
    if (step === 'mfa' || step === 'enroll') return kit.respondOutcome(ctx, details, { kind: step, methods: methods ?? [] });
    if (step === 'trust_device' || step === 'reauth') return kit.respondOutcome(ctx, details, { kind: step });
    await kit.render(ctx, details, step === 'consent' ? 'consent' : 'login');
  });

  /** The password through the login service (rate limit, lockout, one error for every failure); browsers get the form again. */
  async function checkPassword(ctx: Context, details: Details, username: string, password: string, page: Record<string, unknown>) {
    await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.config.rateLimit.loginPerIpPerMinute, 60);
    try {
      return await deps.login.passwordLogin({ username, password, ip: ctx.ip, requestId: ctx.state.requestId });
    } catch (err) {
      if (err instanceof IdpError && err.status === 401 && !wantsJson(ctx)) {
        ctx.status = 401;
        await kit.render(ctx, details, 'login', { error: 'Invalid username or password.', username, ...page });
        return undefined;
      }
      throw err;
    }
  }

  router.post('/login', async (ctx) => {
    const details = await kit.loadForPost(ctx, 'login');
    if (await mfa.transactions.get(details.uid)) throw new IdpError(400, 'invalid_step', 'the password step of this interaction is already done');
    const input = validate(loginBody, body(ctx));
    const user = await checkPassword(ctx, details, input.username, input.password, {});
    if (!user) return;
    const outcome = await mfa.afterPassword({ uid: details.uid, user, clientId: clientIdOf(details), requestedAal: kit.requestedAal(details), ...kit.meta(ctx) });
    await kit.respondOutcome(ctx, details, outcome);
  });

  /** The session's password again, for the account of this interaction only (its name is not taken from the browser). */
  router.post('/reauth', async (ctx) => {
    const details = await kit.loadForPost(ctx, 'login');
    const username = await mfa.reauthUsername(details.uid);
    const { password } = validate(reauthBody, body(ctx));
    const user = await checkPassword(ctx, details, username, password, { reauth: true });
    if (!user) return;
    await kit.respondOutcome(ctx, details, await mfa.reauthenticated({ uid: details.uid, user, requestedAal: kit.requestedAal(details), ...kit.meta(ctx) }));
  });

  router.post('/consent', async (ctx) => {
    const details = await kit.loadForPost(ctx, 'consent');
    const provider = providers.current;
    const accountId = details.session?.accountId;
    if (!accountId) throw badRequest('no signed-in user for this interaction');
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: clientIdOf(details) });
    if (!grant) throw badRequest('the grant for this interaction is gone');
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, {
      consent: details.grantId ? {} : { grantId },
    }, { mergeWithLastSubmission: true });
    respondStep(ctx, { status: 'success', redirect_to: redirectTo });
  });

  router.post('/abort', async (ctx) => {
    const details = await kit.loadForPost(ctx);
    await mfa.transactions.clear(details.uid);
    const redirectTo = await providers.current.interactionResult(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'the user refused the request',
    }, { mergeWithLastSubmission: false });
    respondStep(ctx, { status: 'aborted', redirect_to: redirectTo });
  });

  return router;
}
