import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../lib/crypto.js';
import { IdpError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { DeliveryProviderRepository } from '../store/repositories/delivery-provider.repository.js';
import type { DeliveryRepository } from '../store/repositories/delivery.repository.js';
import type { CodeDelivery, Delivered, MailDelivery, OutgoingCode } from './delivery.js';
import { phoneTexts } from './code-texts.js';
import { providerFor } from './providers/index.js';
import type { PhoneChannel, SendOutcome } from './providers/provider.js';
import type { WordingFor } from './wording.js';

export interface CodeDeliveryDeps {
  providers: Pick<DeliveryProviderRepository, 'list'>;
  deliveries: Pick<DeliveryRepository, 'record'>;
  mail: MailDelivery;
  /** Where codes go when an organisation has no provider for the channel (the outbox). */
  fallback: CodeDelivery;
  box: SecretBox;
  metrics: Pick<Metrics, 'deliveries'>;
  logger: Pick<Logger, 'warn'>;
  clock: { now(): number };
  /** The language and the sender's name of a message (and the host WebOTP binds the code to). */
  wording: WordingFor;
  /** How long one provider may take, from the request to the last byte of its answer. */
  timeoutMs: number;
  statusUrl(providerId: string): string;
}

const failed = (detail: Record<string, unknown>) =>
  new IdpError('delivery_failed', 'the code could not be delivered; try again later or choose another method', { detail });

/**
 * SMS and voice codes through the organisation's providers (and the global ones) in priority order;
 * e-mail codes through the mail delivery. Each attempt is recorded, with neither number nor code.
 */
export function createCodeDelivery(deps: CodeDeliveryDeps): CodeDelivery {
  const { deliveries, metrics, logger } = deps;

  async function record(message: OutgoingCode, attempt: { id: string; providerId: string | null; provider: string; outcome: SendOutcome }) {
    const { outcome } = attempt;
    await deliveries.record({
      id: attempt.id,
      organizationId: message.organizationId,
      accountId: message.accountId ?? null,
      destinationId: message.destinationId ?? null,
      channel: message.channel,
      providerId: attempt.providerId,
      provider: attempt.provider,
      status: outcome.kind === 'accepted' ? 'accepted' : outcome.kind === 'uncertain' && outcome.timedOut ? 'timeout' : 'failed',
      providerMessageId: outcome.kind === 'accepted' ? outcome.messageId : null,
      error: outcome.kind === 'accepted' ? null : outcome.error,
    });
    metrics.deliveries.inc({ channel: message.channel, provider: attempt.provider, outcome: outcome.kind });
  }

  async function sendMail(message: OutgoingCode): Promise<Delivered> {
    const id = randomUUID();
    try {
      const sent = await deps.mail.send({
        to: message.to,
        template: 'code',
        data: { code: message.code, purpose: message.purpose },
        organizationId: message.organizationId,
        locale: message.locale,
        name: message.name,
      });
      await record(message, { id, providerId: null, provider: sent.provider, outcome: { kind: 'accepted', messageId: sent.deliveryId } });
      return { deliveryId: id, provider: sent.provider, attempt: 0 };
    } catch (err) {
      await record(message, { id, providerId: null, provider: 'smtp', outcome: { kind: 'refused', error: 'the mail server did not take the message' } });
      throw err instanceof IdpError ? err : failed({ channel: 'email' });
    }
  }

  async function sendPhone(message: OutgoingCode & { channel: PhoneChannel }): Promise<Delivered> {
    const rows = (await deps.providers.list(message.organizationId)).filter((r) => r.enabled && r.channels.includes(message.channel));
    if (rows.length === 0) return deps.fallback.send(message);
    const w = await deps.wording(message);
    let code = message.code;
    let attempt = 0;
    // True once a provider may have sent `code`: it must not go to the phone a second time.
    let spent = false;
    for (const row of rows) {
      if (spent) {
        if (!message.codeFor) break;
        code = await message.codeFor(++attempt);
        spent = false;
      }
      const id = randomUUID();
      const outcome = await providerFor(row, deps.box, () => deps.clock.now()).send(
        {
          deliveryId: id,
          channel: message.channel,
          to: message.to,
          code,
          locale: w.lang,
          ...phoneTexts(w, message.channel, message.purpose, code),
          statusCallback: deps.statusUrl(row.id),
        },
        AbortSignal.timeout(deps.timeoutMs),
      );
      await record(message, { id, providerId: row.id, provider: row.name, outcome });
      if (outcome.kind === 'accepted') return { deliveryId: id, provider: row.name, attempt };
      logger.warn(
        { provider: row.name, channel: message.channel, outcome: outcome.kind, reason: outcome.error, deliveryId: id },
        'a delivery provider did not take the message',
      );
      spent = outcome.kind === 'uncertain';
    }
    throw failed({ channel: message.channel, providers: rows.length, attempts: attempt + 1 });
  }

  return {
    send: (message) => (message.channel === 'email' ? sendMail(message) : sendPhone({ ...message, channel: message.channel })),
  };
}
