import Cookies from 'cookies';
import { randomToken, sha256 } from '../lib/crypto.js';
import type { HttpExchange } from './login-request.js';

/**
 * The browser's device key: a long-lived random httpOnly cookie, set at sign-in when the browser has
 * none, whose SHA-256 a session record keeps. A session cookie copied to another browser comes
 * without it, so a session bound to its device is refused there. (The trusted-device cookie is not
 * reused: it exists only on devices the user chose to trust.)
 */
export const DEVICE_KEY_COOKIE = 'idp_device_key';
const MAX_AGE_MS = 400 * 86_400_000; // the longest a browser keeps a cookie (RFC 6265bis)
const SHAPE = /^[\w-]{43}$/;

export function createDeviceKeys(issuer: string) {
  const secure = issuer.startsWith('https://');
  const jar = (http: HttpExchange) => new Cookies(http.req, http.res, { secure });
  return {
    /** SHA-256 of the key this browser sent, if any. */
    read(http: HttpExchange): string | null {
      const token = jar(http).get(DEVICE_KEY_COOKIE);
      return token && SHAPE.test(token) ? sha256(token) : null;
    },
    /** The browser's key, set now when it has none; returns its SHA-256. */
    ensure(http: HttpExchange): string {
      const held = this.read(http);
      if (held) return held;
      const token = randomToken(32);
      jar(http).set(DEVICE_KEY_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: MAX_AGE_MS, overwrite: true });
      return sha256(token);
    },
  };
}

export type DeviceKeys = ReturnType<typeof createDeviceKeys>;
