import { createHmac } from 'node:crypto';
import { safeEqual } from './crypto.js';

/** The header every signed request of ours carries, and every signed request to us must carry. */
export const SIGNATURE_HEADER = 'x-idp-signature';

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is inside the MAC, so a
 * captured request cannot be replayed outside the tolerance window with a new time.
 */
export function signPayload(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** True when `header` signs `body` with `secret` and its time is within `toleranceSeconds` of now. */
export function verifyPayload(secret: string, body: string, header: string | undefined, nowMs: number, toleranceSeconds = 300): boolean {
  if (!header || header.length > 512) return false;
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string | undefined]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  return safeEqual(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'), v1);
}
