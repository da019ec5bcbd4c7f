import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import helmet from 'koa-helmet';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { Container } from './container.js';
import { clientRoutes } from './http/admin/clients.routes.js';
import { userRoutes } from './http/admin/users.routes.js';
import { createInteractionKit } from './http/interaction/interaction-context.js';
import { interactionRoutes } from './http/interaction/interaction.routes.js';
import { mfaRoutes } from './http/interaction/mfa.routes.js';
import { apiKeyAuth } from './http/middleware/admin-auth.js';
import { parseBodies } from './http/middleware/body.js';
import { errorHandler } from './http/middleware/error-handler.js';
import { createRateLimiter } from './http/middleware/rate-limit.js';
import { requestContext } from './http/middleware/request-context.js';
import { trustedProxies } from './http/middleware/trusted-proxies.js';
import { opsRoutes } from './http/ops/ops.routes.js';
import { createViewRenderer } from './http/views.js';

/** Our routes first; whatever they do not match falls through to the provider mounted at the issuer path. */
export function buildApp(c: Container): Koa {
  const app = new Koa();
  app.proxy = c.config.trustedProxies.length > 0;
  app.maxIpsCount = 1;
  const views = createViewRenderer();

  app.use(trustedProxies(c.config.trustedProxies));
  app.use(requestContext(c.logger, c.metrics));
  app.use(errorHandler(c.logger, views));
  app.use(helmet({
    contentSecurityPolicy: { directives: { 'form-action': null, 'script-src': ["'self'", "'unsafe-inline'"] } },
  }) as unknown as Middleware);

  app.use(opsRoutes(c.readiness, c.metrics).routes());

  const bodies = parseBodies(c.config.limits.jsonBodyBytes);
  const kit = createInteractionKit({ providers: c.providers, csrf: c.csrf, views, mfa: c.mfa, issuer: c.config.issuer });
  const interactions = interactionRoutes({
    providers: c.providers, kit, login: c.login, mfa: c.mfa, audit: c.audit, metrics: c.metrics, config: c.config,
    limiter: createRateLimiter(c.ephemeral),
  });
  const mfa = mfaRoutes({ kit, mfa: c.mfa, issuer: c.config.issuer });
  app.use(async (ctx, next) => (ctx.path.startsWith('/interaction/') || ctx.path.startsWith('/api/') ? bodies(ctx, next) : next()));
  app.use(interactions.routes()).use(interactions.allowedMethods());
  app.use(mfa.routes()).use(mfa.allowedMethods());

  const api = new Router({ prefix: '/api/v1' });
  api.use(apiKeyAuth(c.apiKeys));
  const clients = clientRoutes(c.clientService);
  const users = userRoutes(c.userService);
  api.use(clients.routes(), users.routes());
  app.use(api.routes()).use(api.allowedMethods());

  const issuerPath = new URL(c.config.issuer).pathname.replace(/\/$/, '') || '/';
  const mounted = new WeakMap<Provider, Middleware>();
  app.use((ctx, next) => {
    const provider = c.providers.current;
    // Mounted, the provider reads and writes cookies through our context, hence with our app's keys.
    app.keys = provider.keys;
    let mw = mounted.get(provider);
    if (!mw) {
      mw = mount(issuerPath, provider) as unknown as Middleware;
      mounted.set(provider, mw);
    }
    return mw(ctx, next);
  });
  return app;
}
