import crypto from 'node:crypto';
import Cookies from 'cookies';
import type { HttpExchange } from '../authn/login-request.js';
import { hmac, randomToken } from '../lib/crypto.js';

/** Ties SAML state kept server-side (a login, a logout chain) to the browser it runs in; one per browser, shared by its parallel flows. */
const BROWSER_COOKIE = 'idp_saml_browser';

export const sameHash = (a: string, b: string) => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The browser's key, created when asked to; only its keyed hash is ever stored. */
export function createBrowserKey(deps: { idKey: string; issuer: string }) {
  const secure = deps.issuer.startsWith('https://');
  return function browserOf(http: HttpExchange, create: boolean): string | undefined {
    const cookies = new Cookies(http.req, http.res, { secure });
    const existing = cookies.get(BROWSER_COOKIE);
    if (existing && /^[\w-]{43}$/.test(existing)) return hmac(deps.idKey, existing);
    if (!create) return undefined;
    const key = randomToken(32);
    cookies.set(BROWSER_COOKIE, key, { httpOnly: true, sameSite: 'lax', secure, path: '/', overwrite: true });
    return hmac(deps.idKey, key);
  };
}
