import type { Middleware } from 'koa';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import { runInRequestScope } from '../../lib/request-scope.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Route label for metrics: ids collapsed so the label set stays small. */
export function routeLabel(path: string): string {
  if (path.startsWith('/interaction/'))
    return `/interaction/:uid${path
      .split('/')
      .slice(3)
      .map((p) => `/${p}`)
      .join('')}`;
  if (path.startsWith('/api/')) return path.replace(/\/[0-9a-f-]{36}|\/[^/]{20,}/gi, '/:id');
  return ['/auth', '/token', '/me', '/jwks', '/.well-known/openid-configuration', '/healthz', '/readyz', '/metrics'].find((p) => path.startsWith(p)) ?? 'other';
}

/** Request id (echoed in X-Request-Id), a request-scoped logger and audit scope, and latency metrics. */
export function requestContext(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    // randomUUID draws from a cached entropy pool: no random-bytes call per request.
    const id = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    // A child logger per request is costly and most requests never log: made on first use.
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ requestId: id }));
    Object.defineProperty(ctx.state, 'log', { get: log, configurable: true });
    ctx.set('X-Request-Id', id);
    const started = process.hrtime.bigint();
    try {
      // Audit events recorded anywhere in this request carry its id and address (and client, once known).
      await runInRequestScope({ requestId: id, ip: ctx.ip }, next);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe({ method: ctx.method, route: routeLabel(ctx.path), status: String(ctx.status) }, seconds);
      if (logger.isLevelEnabled('debug')) log().debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(seconds * 1000) }, 'request');
    }
  };
}
