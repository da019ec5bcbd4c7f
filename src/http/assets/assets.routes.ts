import crypto from 'node:crypto';
import fs from 'node:fs';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

/** A file served as is, read once at start-up. */
export interface Asset {
  file: string;
  type: string;
}

interface Loaded {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The pages' scripts, from our own origin because the Content-Security-Policy allows scripts from
 * nowhere else (`script-src 'self'`). Their names carry no version, so caches revalidate after an
 * hour (the ETag makes that a 304). Anything else under /assets is a JSON 404.
 */
export function assetRoutes(assets: Readonly<Record<string, Asset>>): Middleware {
  const loaded = new Map<string, Loaded>(
    Object.entries(assets).map(([name, { file, type }]) => {
      const body = fs.readFileSync(file);
      return [name, { body, type, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }];
    }),
  );
  const router = new Router({ prefix: '/assets' });
  router.get('/:name', (ctx, next) => {
    const asset = loaded.get(ctx.params.name!);
    if (!asset) return next();
    ctx.status = 200;
    ctx.set('ETag', asset.etag);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = asset.body;
  });
  const notFound: Middleware = (ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'not_found', error_description: 'no such asset' };
  };
  return compose([router.routes(), notFound] as Middleware[]);
}
