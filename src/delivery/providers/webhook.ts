import { signPayload, SIGNATURE_HEADER } from '../../lib/webhook-signature.js';
import { callProvider } from './http-call.js';
import type { CodeProvider, SendOutcome } from './provider.js';

export interface WebhookConfig {
  url: string;
}

/**
 * The organisation's own gateway: the message as signed JSON (`X-Idp-Signature`, HMAC-SHA256 over
 * the time and the body); any 2xx means it took the message. It reports back, signed the same way,
 * at the status URL, naming our `id`.
 */
export function createWebhookProvider(config: WebhookConfig, secret: string, now: () => number): CodeProvider {
  return {
    async send(message, signal): Promise<SendOutcome> {
      const body = JSON.stringify({
        id: message.deliveryId,
        channel: message.channel,
        to: message.to,
        message: message.text,
        code: message.code,
        locale: message.locale,
        status_callback: message.statusCallback,
      });
      const answer = await callProvider(
        config.url,
        { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(secret, body, now()) }, body },
        signal,
      );
      return answer.ok ? { kind: 'accepted', messageId: null } : answer.outcome;
    },
  };
}
