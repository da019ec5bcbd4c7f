/** How a one-time code reaches a person. */
export type CodeChannel = 'sms' | 'voice' | 'email';

/** Why a message is sent: its wording (and a voice call's script) depend on it. */
export type MessagePurpose = 'sign_in' | 'verify_destination' | 'recovery' | 'step';

/** A code to deliver. `to` is an E.164 number or an e-mail address, already verified or being verified. */
export interface OutgoingCode {
  channel: CodeChannel;
  to: string;
  code: string;
  purpose: MessagePurpose;
  organizationId: string;
  /**
   * The person's language (`users.locale`, BCP 47); without one we write in, the organisation's
   * `default_locale`, then English.
   */
  locale?: string | null;
  /** The person's name, which an e-mail greets them by. */
  name?: string | null;
  /** Who it is for and which destination, for the delivery record (never the number or address itself). */
  accountId?: string;
  destinationId?: string;
  /**
   * A fresh code for the next provider, when the previous one may have delivered the message
   * (it timed out after the request went out, answered 5xx, or the connection broke mid-request):
   * the same code is never sent twice to one phone. `attempt` counts from 1 (`code` is attempt 0);
   * the caller must keep only the code of the attempt `Delivered.attempt` names. Without it, such
   * a failure ends the failover with `delivery_failed`.
   */
  codeFor?: (attempt: number) => Promise<string>;
}

/** What became of a send: the provider that accepted it and its id for the delivery record. */
export interface Delivered {
  deliveryId: string;
  provider: string;
  /** Which code reached the provider that accepted: 0 is `OutgoingCode.code`, n the one `codeFor(n)` made. */
  attempt?: number;
}

/**
 * Sends codes through the organisation's providers in priority order. Throws IdpError `delivery_failed`
 * when no provider accepted the message. A provider that refused cleanly (a 4xx answer, or no
 * connection at all) is followed by the next one with the same code; after one that may have sent it
 * the next gets a code from `codeFor`, or the failover stops.
 */
export interface CodeDelivery {
  send(message: OutgoingCode): Promise<Delivered>;
}

/**
 * A value a message's text interpolates: a date (written the recipient's way, in UTC) or a term of
 * the `email` catalogue (`{ term: 'method.totp' }`, its last part when the catalogue has none).
 */
export type MailValue = string | number | Date | { term: string };

/**
 * An e-mail from a template of `views/email/`, in the recipient's language (as `OutgoingCode.locale`).
 * `data.values` are what its catalogue texts interpolate (see `MailValue`).
 */
export interface OutgoingMail {
  to: string;
  template: string;
  data: Record<string, unknown>;
  organizationId?: string;
  locale?: string | null;
  /** The recipient's name, which the greeting uses. */
  name?: string | null;
}

export interface MailDelivery {
  send(mail: OutgoingMail): Promise<Delivered>;
}
