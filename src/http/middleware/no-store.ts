import type { Middleware } from 'koa';

/**
 * Login steps answer with credentials in flight (secrets, codes, redirects carrying state), so no
 * cache along the way may keep any of them (RFC 9111 §5.2.2.5, OWASP ASVS 5 14.3.2). Set before
 * the route runs, so errors, redirects and unmatched paths carry it too.
 */
export function noStore(): Middleware {
  return (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    return next();
  };
}
