import type { Middleware } from 'koa';
import helmet from 'koa-helmet';
import { addCspSources, cspSources, isHtml } from '../../lib/csp.js';

const CSP = 'Content-Security-Policy';

/**
 * helmet's full set (CSP, framing, referrer, HSTS, ...) on pages, where it protects something;
 * API and token responses, the hot path, only get `nosniff`. Applied once the response is known,
 * error pages included.
 *
 * Scripts: no 'unsafe-inline'. Our views have no inline script; the provider's self-submitting
 * forms (response_mode=form_post, logout) do, and oidc-provider adds each one's sha256 to a
 * Content-Security-Policy header that is already set when it renders, hence the provisional header
 * below. Forms: this origin plus whatever the page's flow registered (lib/csp.ts).
 */
export function securityHeaders(): Middleware {
  const pageHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        'script-src': [(_req, res) => ["'self'", ...cspSources(res, 'script-src')].join(' ')],
        'form-action': [(_req, res) => ["'self'", ...cspSources(res, 'form-action')].join(' ')],
        'img-src': [(_req, res) => ["'self'", 'data:', ...cspSources(res, 'img-src')].join(' ')],
      },
    },
  });
  const none = async () => {};
  return async (ctx, next) => {
    ctx.set(CSP, "script-src 'self'");
    try {
      await next();
    } finally {
      if (isHtml(ctx.response.get('Content-Type'))) {
        addCspSources(ctx.res, 'script-src', String(ctx.response.get(CSP)).match(/'sha256-[A-Za-z0-9+/]+={0,2}'/g) ?? []);
        await pageHeaders(ctx, none);
      } else {
        ctx.remove(CSP);
        ctx.set('X-Content-Type-Options', 'nosniff');
      }
    }
  };
}
