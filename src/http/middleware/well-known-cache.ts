import crypto from 'node:crypto';
import type { Middleware } from 'koa';

/**
 * Discovery and JWKS change only when the provider is rebuilt (key rotation), yet the provider
 * recomputes them per request. The bytes are kept per provider and origin and served with an
 * ETag, so relying parties that revalidate get a 304.
 */
export function wellKnownCache(paths: readonly string[], currentProvider: () => object): Middleware {
  const served = new Set(paths);
  const cache = new Map<string, { owner: object; etag: string; body: string; type: string }>();
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || !served.has(ctx.path)) {
      await next();
      return;
    }
    const key = `${ctx.origin}${ctx.path}`;
    const owner = currentProvider();
    let hit = cache.get(key);
    if (!hit || hit.owner !== owner) {
      await next();
      if (ctx.status !== 200 || ctx.body === undefined || ctx.body === null) return;
      const body = typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body);
      hit = { owner, body, type: ctx.type, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      if (cache.size > 100) cache.clear();
      cache.set(key, hit);
    }
    ctx.status = 200;
    ctx.set('ETag', hit.etag);
    ctx.set('Cache-Control', 'public, max-age=300');
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = hit.type;
    ctx.body = hit.body;
  };
}
