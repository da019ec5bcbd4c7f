import { callProvider } from './http-call.js';
import type { CodeProvider, ProviderMessage, SendOutcome } from './provider.js';
import { toTwiml } from '../voice-script.js';

export interface TwilioConfig {
  account_sid: string;
  /** The sender: an E.164 number (needed for calls) or an alphanumeric sender id. */
  from?: string;
  /** Sends SMS through a messaging service instead of `from`. */
  messaging_service_sid?: string;
  base_url: string;
}

/**
 * A Twilio-compatible REST API (Twilio's own, or a compatible gateway at another base URL):
 * `Messages.json` for SMS, `Calls.json` with inline TwiML for voice, HTTP Basic with the account
 * SID and auth token, form-encoded requests and JSON answers.
 */
export function createTwilioProvider(config: TwilioConfig, authToken: string): CodeProvider {
  const account = `${config.base_url.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.account_sid)}`;
  const authorization = `Basic ${Buffer.from(`${config.account_sid}:${authToken}`).toString('base64')}`;

  function form(message: ProviderMessage): URLSearchParams {
    const params = new URLSearchParams({ To: message.to, StatusCallback: message.statusCallback });
    if (message.channel === 'voice') {
      params.set('From', config.from ?? '');
      params.set('Twiml', toTwiml(message.voice));
    } else {
      if (config.messaging_service_sid) params.set('MessagingServiceSid', config.messaging_service_sid);
      else params.set('From', config.from ?? '');
      params.set('Body', message.text);
    }
    return params;
  }

  return {
    async send(message, signal): Promise<SendOutcome> {
      const answer = await callProvider(
        `${account}/${message.channel === 'voice' ? 'Calls' : 'Messages'}.json`,
        { method: 'POST', headers: { authorization, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body: form(message) },
        signal,
      );
      if (!answer.ok) return answer.outcome;
      const { sid, status } = (answer.json ?? {}) as { sid?: unknown; status?: unknown };
      // A 2xx without a message id is no proof either way; one already failed never went out.
      if (typeof sid !== 'string' || !sid) return { kind: 'uncertain', error: 'answer without a sid', timedOut: false };
      if (status === 'failed' || status === 'undelivered' || status === 'canceled') return { kind: 'refused', error: `status ${status}` };
      return { kind: 'accepted', messageId: sid.slice(0, 64) };
    },
  };
}
