import type { Context, Middleware } from 'koa';
import { IdpError, isConnectionError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { ViewRenderer } from '../views.js';

export interface ErrorBody { error: string; error_description: string }

/** Maps anything thrown to a status and a `{error, error_description}` body that never leaks internals. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof IdpError) return { status: err.status, body: { error: err.error, error_description: err.expose ? err.description : 'request failed' } };
  if (isConnectionError(err)) return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'a storage dependency is unavailable, try again shortly' } };
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; error?: string; error_description?: string; type?: string };
  const status = e.statusCode ?? e.status ?? 500;
  if (status >= 400 && status < 500) {
    // oidc-provider errors carry `error`; body-parser ones only a status, a message and a type.
    if (e.error && e.expose) return { status, body: { error: e.error, error_description: e.error_description ?? e.error } };
    const error = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    return { status, body: { error, error_description: e.expose && e.message ? e.message : 'the request body could not be read' } };
  }
  return { status: 500, body: { error: 'server_error', error_description: 'an unexpected error occurred' } };
}

export function wantsJson(ctx: Context): boolean {
  return ctx.path.startsWith('/api/') || ctx.accepts('html', 'json') !== 'html';
}

export function errorHandler(logger: Logger, views: ViewRenderer): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const { status, body } = toErrorResponse(err);
      const log = (ctx.state.log as Logger | undefined) ?? logger;
      if (status >= 500) log.error({ err, path: ctx.path }, 'request failed');
      else log.info({ path: ctx.path, status, error: body.error }, 'request rejected');
      ctx.status = status;
      if (status === 503) ctx.set('Retry-After', '5');
      if (status === 429) ctx.set('Retry-After', '60');
      if (wantsJson(ctx)) ctx.body = body;
      else ctx.body = await views.render('error', { title: 'Something went wrong', ...body });
    }
  };
}
