import type { Context, Middleware } from 'koa';
import { IdpError, isConnectionError, isUnstorableText } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { HTTP_STATUS } from './error-status.js';
import type { Pages } from '../../i18n/pages.js';

export interface ErrorBody {
  error: string;
  error_description: string;
}

/** Maps anything thrown to a status and a `{error, error_description}` body that never leaks internals. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof IdpError)
    return { status: HTTP_STATUS[err.error], body: { error: err.error, error_description: err.expose ? err.description : 'request failed' } };
  if (isUnstorableText(err))
    return { status: 400, body: { error: 'invalid_request', error_description: 'the request contains characters that cannot be stored' } };
  if (isConnectionError(err))
    return { status: 503, body: { error: 'temporarily_unavailable', error_description: 'a storage dependency is unavailable, try again shortly' } };
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; error?: string; error_description?: string; type?: string };
  const status = e.statusCode ?? e.status ?? 500;
  // oidc-provider's temporarily_unavailable (our adapter's verdict on a store outage, oidc/unavailable.ts).
  if (status === 503)
    return { status, body: { error: 'temporarily_unavailable', error_description: 'a storage dependency is unavailable, try again shortly' } };
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

/** Errors set as a bare status by koa or the router (no route, wrong method), which leave no body. */
const BARE_STATUS: Record<number, ErrorBody> = {
  404: { error: 'not_found', error_description: 'no such resource' },
  405: { error: 'method_not_allowed', error_description: 'this method is not allowed on this resource' },
  501: { error: 'not_implemented', error_description: 'this method is not implemented' },
};

export function errorHandler(logger: Logger, pages: Pages): Middleware {
  return async (ctx, next) => {
    const send = async (status: number, body: ErrorBody) => {
      ctx.status = status;
      if (wantsJson(ctx)) ctx.body = body;
      else {
        // A sign-in step that failed offers the way back to its page (which shows where the sign-in stands now).
        const backTo = typeof ctx.state.signInPage === 'string' ? ctx.state.signInPage : undefined;
        await pages.render(ctx, 'error', { ...body, ...(backTo ? { backTo } : {}) });
      }
    };
    try {
      await next();
    } catch (err) {
      const { status, body } = toErrorResponse(err);
      const log = ctx.state.log ?? logger;
      if (status >= 500) log.error({ err, path: ctx.path }, 'request failed');
      // The detail says what the plain description leaves out (which check refused it); it never reaches the client.
      else
        log.info({ path: ctx.path, status, error: body.error, ...(err instanceof IdpError && err.detail ? { detail: err.detail } : {}) }, 'request rejected');
      if (status === 503) ctx.set('Retry-After', '5');
      if (status === 429) ctx.set('Retry-After', String((err instanceof IdpError && err.retryAfterSec) || 60));
      await send(status, body);
      return;
    }
    // Every error answer carries {error, error_description}, also the ones nobody wrote a body for.
    const bare = BARE_STATUS[ctx.status];
    if (bare && ctx.body == null && ctx.respond !== false && ctx.method !== 'HEAD') await send(ctx.status, bare);
  };
}
