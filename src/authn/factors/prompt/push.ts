import webpush from 'web-push';
import type { SecretBox } from '../../../lib/crypto.js';
import { signPayload, SIGNATURE_HEADER } from '../../../lib/webhook-signature.js';
import type { PromptDevice } from '../../../store/repositories/prompt.repository.js';
import type { VapidKeys } from './vapid.js';

/** What a device is told about a prompt: enough to show it, never which choice is right. */
export interface PromptMessage {
  type: 'idp.prompt';
  prompt_id: string;
  device_id: string;
  app: string;
  location: string;
  time: string;
  choices: number[];
  expires_at: string;
  /** Where the device posts its signed answer; the device page reads the prompt from `details_url`. */
  callback_url: string;
  details_url: string;
}

export interface PushDeps {
  box: SecretBox;
  vapid: () => Promise<VapidKeys>;
  /** The `sub` of our VAPID claims (RFC 8292 §2.1): an https URL or a mailto: address to reach the operator. */
  contact: string;
  /** The organisation's prompt webhook, for a device of the organisation's own app. */
  webhookOf: (userId: string) => Promise<{ url: string; secretSealed: string } | undefined>;
  now: () => number;
  timeoutMs?: number;
}

/**
 * Sends a prompt to one device: a browser through its push service (RFC 8030, payload encrypted
 * for the subscription, RFC 8291, and VAPID-signed, RFC 8292), or the organisation's app through
 * its webhook, signed with the organisation's secret. Throws when it did not go out.
 */
export function createPromptPush(deps: PushDeps) {
  const timeout = deps.timeoutMs ?? 5000;

  async function post(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : new Uint8Array(body),
      redirect: 'error',
      signal: AbortSignal.timeout(timeout),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the receiver answered ${res.status}`);
  }

  return async function send(device: PromptDevice, message: PromptMessage, ttlSec: number): Promise<void> {
    const body = JSON.stringify(message);
    if (device.transport === 'webpush') {
      if (!device.subscriptionSealed) throw new Error('the device has no push subscription');
      const subscription = JSON.parse(deps.box.open(device.subscriptionSealed)) as webpush.PushSubscription;
      const { publicKey, privateKey } = await deps.vapid();
      // Built by the library, sent by us: it would only speak https, and the test's receiver is local.
      const request = webpush.generateRequestDetails(subscription, body, {
        vapidDetails: { subject: deps.contact, publicKey, privateKey },
        TTL: ttlSec,
        urgency: 'high',
      });
      await post(request.endpoint, request.headers, request.body);
      return;
    }
    const hook = await deps.webhookOf(device.userId);
    if (!hook) throw new Error("the user's organisation has no prompt webhook");
    await post(hook.url, { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(deps.box.open(hook.secretSealed), body, deps.now()) }, body);
  };
}

export type PromptPush = ReturnType<typeof createPromptPush>;
