import type { CodeChannel } from '../delivery.js';
import type { VoiceScript } from '../voice-script.js';

export type PhoneChannel = Exclude<CodeChannel, 'email'>;
export const PHONE_CHANNELS = ['sms', 'voice'] as const satisfies readonly PhoneChannel[];

/** One message as a provider receives it: the text and the call script are already in the recipient's language. */
export interface ProviderMessage {
  /** Our delivery record's id: the webhook provider's `id`, and what its status reports name. */
  deliveryId: string;
  channel: PhoneChannel;
  to: string;
  code: string;
  locale: string;
  text: string;
  voice: VoiceScript;
  /** Where the provider reports what became of the message. */
  statusCallback: string;
}

/**
 * What a send came to. `refused`: the provider answered that it would not take the message (or no
 * connection was ever made), so nothing reached the phone. `uncertain`: a timeout after the request
 * went out, a 5xx, a connection broken mid-request: the message may have been sent.
 */
export type SendOutcome =
  { kind: 'accepted'; messageId: string | null } | { kind: 'refused'; error: string } | { kind: 'uncertain'; error: string; timedOut: boolean };

export interface CodeProvider {
  send(message: ProviderMessage, signal: AbortSignal): Promise<SendOutcome>;
}
