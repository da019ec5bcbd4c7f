import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuditService } from '../../audit/audit.service.js';
import type { LoginService } from '../../authn/login.service.js';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import { IdpError, badRequest } from '../../lib/errors.js';
import type { Metrics } from '../../lib/metrics.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import { body, validate } from '../middleware/body.js';
import type { Csrf } from '../middleware/csrf.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { ViewRenderer } from '../views.js';
import { loginBody, uidParam } from './interaction.schema.js';
import { respondStep } from './respond.js';

export interface InteractionRouteDeps {
  providers: ProviderHolder;
  login: LoginService;
  audit: AuditService;
  metrics: Metrics;
  csrf: Csrf;
  limiter: RateLimiter;
  views: ViewRenderer;
  config: Pick<Config, 'rateLimit'>;
  clock: Clock;
}

type Details = Awaited<ReturnType<ProviderHolder['current']['interactionDetails']>>;

export function interactionRoutes(deps: InteractionRouteDeps): Router {
  const { providers, csrf, views } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  async function load(ctx: Context): Promise<Details> {
    validate(uidParam, ctx.params.uid);
    const details = await providers.current.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw badRequest('interaction does not match this browser session');
    return details;
  }

  async function loadForPost(ctx: Context, step: string): Promise<Details> {
    const details = await load(ctx);
    csrf.verify(ctx, details.uid);
    if (details.prompt.name !== step) throw new IdpError(400, 'invalid_step', `this interaction is at the ${details.prompt.name} step`);
    return details;
  }

  const clientIdOf = (d: Details) => String(d.params.client_id ?? '');

  async function render(ctx: Context, details: Details, extra: Record<string, unknown> = {}) {
    const step = details.prompt.name;
    const view = step === 'consent' ? 'consent' : 'login';
    const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
    ctx.type = 'html';
    ctx.body = await views.render(view, { uid: details.uid, clientId: clientIdOf(details), csrf: csrf.token(details.uid), scopes, ...extra });
  }

  router.get('/', async (ctx) => {
    const details = await load(ctx);
    ctx.set('Cache-Control', 'no-store');
    if (wantsJson(ctx)) ctx.body = { uid: details.uid, step: details.prompt.name, client_id: clientIdOf(details) };
    else await render(ctx, details);
  });

  router.post('/login', async (ctx) => {
    const details = await loadForPost(ctx, 'login');
    await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.config.rateLimit.loginPerIpPerMinute, 60);
    const input = validate(loginBody, body(ctx));
    let user;
    try {
      user = await deps.login.passwordLogin({ ...input, ip: ctx.ip, requestId: ctx.state.requestId });
    } catch (err) {
      if (err instanceof IdpError && err.status === 401 && !wantsJson(ctx)) {
        ctx.status = 401;
        await render(ctx, details, { error: 'Invalid username or password.', username: input.username });
        return;
      }
      throw err;
    }
    const ts = Math.floor(deps.clock.now() / 1000);
    const redirectTo = await providers.current.interactionResult(ctx.req, ctx.res, {
      login: { accountId: user.id, acr: 'aal1', amr: ['pwd'], ts, remember: true },
    }, { mergeWithLastSubmission: false });
    deps.metrics.logins.inc({ outcome: 'success' });
    await deps.audit.record({
      type: 'authn.login.succeeded', outcome: 'success', subject: user.id, organizationId: user.organizationId,
      ip: ctx.ip, requestId: ctx.state.requestId, data: { client_id: clientIdOf(details), amr: ['pwd'], acr: 'aal1' },
    });
    respondStep(ctx, { status: 'success', redirect_to: redirectTo });
  });

  router.post('/consent', async (ctx) => {
    const details = await loadForPost(ctx, 'consent');
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
    const details = await load(ctx);
    csrf.verify(ctx, details.uid);
    const redirectTo = await providers.current.interactionResult(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'the user refused the request',
    }, { mergeWithLastSubmission: false });
    respondStep(ctx, { status: 'aborted', redirect_to: redirectTo });
  });

  return router;
}
