import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuditService } from '../../audit/audit.service.js';
import type { LoginService } from '../../authn/login.service.js';
import type { MfaService } from '../../authn/mfa.service.js';
import type { Config } from '../../config.js';
import { IdpError, badRequest } from '../../lib/errors.js';
import type { Metrics } from '../../lib/metrics.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import { body, validate } from '../middleware/body.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { Details, InteractionKit } from './interaction-context.js';
import { loginBody } from './interaction.schema.js';
import { respondStep } from './respond.js';

export interface InteractionRouteDeps {
  providers: ProviderHolder;
  kit: InteractionKit;
  login: LoginService;
  mfa: MfaService;
  audit: AuditService;
  metrics: Metrics;
  limiter: RateLimiter;
  config: Pick<Config, 'rateLimit' | 'issuer'>;
}

export function interactionRoutes(deps: InteractionRouteDeps): Router {
  const { providers, kit, mfa } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const clientIdOf = (d: Details) => String(d.params.client_id ?? '');

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
      return { step: outcome.kind === 'mfa' ? 'mfa' : outcome.kind === 'enroll' ? 'enroll' : 'login', methods, outcome };
    }
    return { step: 'login' };
  }

  router.get('/', async (ctx) => {
    const details = await kit.load(ctx);
    ctx.set('Cache-Control', 'no-store');
    const { step, methods, outcome } = await currentStep(ctx, details);
    if (outcome && (outcome.kind === 'finish' || outcome.kind === 'deny')) return kit.respondOutcome(ctx, details, outcome);
    if (wantsJson(ctx)) {
      ctx.body = { uid: details.uid, step, client_id: clientIdOf(details), ...(methods?.length ? { methods } : {}), ...(step === 'enroll' ? { allowed_methods: methods } : {}) };
      return;
    }
    if (step === 'mfa' || step === 'enroll' || step === 'trust_device') {
      return kit.respondOutcome(ctx, details, step === 'trust_device' ? { kind: 'trust_device' } : { kind: step, methods: methods ?? [] });
    }
    await kit.render(ctx, details, step === 'consent' ? 'consent' : 'login');
  });

  router.post('/login', async (ctx) => {
    const details = await kit.loadForPost(ctx, 'login');
    if (await mfa.transactions.get(details.uid)) throw new IdpError(400, 'invalid_step', 'the password step of this interaction is already done');
    await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.config.rateLimit.loginPerIpPerMinute, 60);
    const input = validate(loginBody, body(ctx));
    let user;
    try {
      user = await deps.login.passwordLogin({ ...input, ip: ctx.ip, requestId: ctx.state.requestId });
    } catch (err) {
      if (err instanceof IdpError && err.status === 401 && !wantsJson(ctx)) {
        ctx.status = 401;
        await kit.render(ctx, details, 'login', { error: 'Invalid username or password.', username: input.username });
        return;
      }
      throw err;
    }
    const outcome = await mfa.afterPassword({ uid: details.uid, user, clientId: clientIdOf(details), requestedAal: kit.requestedAal(details), ...kit.meta(ctx) });
    if (outcome.kind === 'finish') {
      deps.metrics.logins.inc({ outcome: 'success' });
      await deps.audit.record({
        type: 'authn.login.succeeded', outcome: 'success', subject: user.id, organizationId: user.organizationId,
        ip: ctx.ip, requestId: ctx.state.requestId, data: { client_id: clientIdOf(details), amr: outcome.login.amr, acr: outcome.login.acr },
      });
    }
    await kit.respondOutcome(ctx, details, outcome);
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
