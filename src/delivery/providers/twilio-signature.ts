import { createHmac } from 'node:crypto';
import { safeEqual } from '../../lib/crypto.js';

/**
 * Twilio's request signature: base64 HMAC-SHA1, keyed with the auth token, over the full URL the
 * request was sent to followed by each POST parameter's name and value, names in sorted order.
 */
export function twilioSignature(authToken: string, url: string, params: ReadonlyMap<string, string>): string {
  const data =
    url +
    [...params.keys()]
      .sort()
      .map((k) => `${k}${params.get(k)!}`)
      .join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function verifyTwilioSignature(authToken: string, url: string, params: ReadonlyMap<string, string>, header: string | undefined): boolean {
  return !!header && header.length <= 128 && safeEqual(twilioSignature(authToken, url, params), header);
}
