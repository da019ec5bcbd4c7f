import type { Context } from 'koa';
import { hmac, safeEqual } from '../../lib/crypto.js';
import { IdpError } from '../../lib/errors.js';
import { body } from './body.js';

/**
 * Forms carry a token bound to the interaction (HMAC of its uid). JSON bodies need none: a
 * cross-site page cannot send `application/json` without a CORS preflight, which we never grant.
 */
export function createCsrf(secret: string) {
  return {
    token: (binding: string) => hmac(secret, `csrf:${binding}`),
    verify(ctx: Context, binding: string): void {
      if (ctx.is('application/json')) return;
      const sent = (body(ctx) as { csrf?: unknown } | undefined)?.csrf;
      if (typeof sent !== 'string' || !safeEqual(sent, hmac(secret, `csrf:${binding}`))) {
        throw new IdpError('invalid_csrf_token', 'the form has expired or did not come from this site; reload the page', {
          detail: { reason: typeof sent === 'string' ? 'mismatch' : 'missing' },
        });
      }
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
