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
  /** BCP 47; the message's language, falling back to English. */
  locale?: string;
  /** Who it is for and which destination, for the delivery record (never the number or address itself). */
  accountId?: string;
  destinationId?: string;
}

/** What became of a send: the provider that accepted it and its id for the delivery record. */
export interface Delivered {
  deliveryId: string;
  provider: string;
}

/**
 * Sends codes. Throws IdpError `delivery_failed` when no provider accepted the message; a provider
 * that timed out or failed is never retried with the same code on another (the caller sends a new one).
 */
export interface CodeDelivery {
  send(message: OutgoingCode): Promise<Delivered>;
}

/** An e-mail from a template of `views/email/`, in the recipient's language. */
export interface OutgoingMail {
  to: string;
  template: string;
  data: Record<string, unknown>;
  organizationId?: string;
  locale?: string;
}

export interface MailDelivery {
  send(mail: OutgoingMail): Promise<Delivered>;
}
