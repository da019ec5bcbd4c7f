import type { Middleware } from 'koa';
import helmet from 'koa-helmet';

/**
 * helmet's full set (CSP, framing, referrer, HSTS, ...) on pages, where it protects something;
 * API and token responses, the hot path, only get `nosniff`. Applied once the response is known,
 * error pages included.
 */
export function securityHeaders(): Middleware {
  const pageHeaders = helmet({
    contentSecurityPolicy: { directives: { 'form-action': null, 'script-src': ["'self'", "'unsafe-inline'"] } },
  }) as unknown as Middleware;
  const none = async () => {};
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      if (ctx.response.is('html')) await pageHeaders(ctx, none);
      else ctx.set('X-Content-Type-Options', 'nosniff');
    }
  };
}
