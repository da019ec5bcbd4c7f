import type { Middleware } from 'koa';
import { z } from 'zod';
import type { RateLimiter } from '../middleware/rate-limit.js';

/** A base64 message of the readers' cap, plus RelayState and the form's overhead. */
export const SAML_POST_BODY_BYTES = 96 * 1024;

/** The one-time references of a continued POST binding or a finished login. */
export const referenceParam = z.string().regex(/^[\w-]{20,64}$/, 'not a valid reference');

/**
 * The signed octets of an HTTP-Redirect message: the query exactly as received, without its
 * Signature (SAML 2.0 Bindings §3.4.4.1); re-encoding the parsed values would break signatures.
 */
export const octetString = (querystring: string) =>
  querystring
    .split('&')
    .filter((part) => !part.startsWith('Signature='))
    .join('&');

/**
 * SAML messages cost a schema check and a signature check before anything is known of their
 * sender: each client IP gets a budget of them per minute (429 beyond it).
 */
export const samlThrottle =
  (limiter: RateLimiter, perMinute: number): Middleware =>
  async (ctx, next) => {
    await limiter.hit(`saml-ip:${ctx.ip}`, perMinute, 60);
    await next();
  };
