import { IdpError } from '../lib/errors.js';
import type { SecretBox } from '../lib/crypto.js';
import { verifyPayload } from '../lib/webhook-signature.js';
import { z } from '../lib/zod.js';
import type { DeliveryStatus } from '../store/database.js';
import type { DeliveryProviderRepository } from '../store/repositories/delivery-provider.repository.js';
import type { DeliveryRepository } from '../store/repositories/delivery.repository.js';
import { withoutNumbers } from './providers/http-call.js';
import { verifyTwilioSignature } from './providers/twilio-signature.js';

/** A status report as it arrived: the raw body (what the signature covers) and the signature headers. */
export interface StatusReport {
  rawBody: string;
  contentType: string;
  twilioSignature?: string;
  idpSignature?: string;
}

/** Twilio's message and call statuses, as our record's; the others (queued, ringing, …) change nothing. */
const TWILIO_STATUS: Record<string, DeliveryStatus> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  completed: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  busy: 'failed',
  'no-answer': 'failed',
  canceled: 'failed',
};

const webhookReport = z.strictObject({
  id: z.uuid(),
  status: z.enum(['sent', 'delivered', 'failed', 'undelivered']),
  error: z.string().max(200).optional(),
});

// One answer for an unknown provider and a bad signature: the endpoint tells an unsigned caller nothing.
const refused = () => new IdpError('access_denied', 'the status report is not signed by this provider');

/** Status reports from providers: each verified with the provider's own secret before it changes a record. */
export function createDeliveryStatusService(deps: {
  providers: Pick<DeliveryProviderRepository, 'find'>;
  deliveries: Pick<DeliveryRepository, 'report'>;
  box: SecretBox;
  clock: { now(): number };
  statusUrl(providerId: string): string;
}) {
  function twilioParams(raw: string): Map<string, string> {
    const params = new Map<string, string>();
    for (const [k, v] of new URLSearchParams(raw)) {
      if (params.has(k)) throw refused();
      params.set(k, v);
    }
    return params;
  }

  return {
    /** True when the report changed a record (a late or repeated report of a final status changes none). */
    async report(providerId: string, report: StatusReport): Promise<boolean> {
      const provider = await deps.providers.find(providerId);
      if (!provider) throw refused();
      const secret = deps.box.open(provider.secretSealed);
      if (provider.type === 'twilio') {
        if (!/^application\/x-www-form-urlencoded\b/i.test(report.contentType)) throw refused();
        const params = twilioParams(report.rawBody);
        // The URL we gave the provider, never the Host header of this request.
        if (!verifyTwilioSignature(secret, deps.statusUrl(providerId), params, report.twilioSignature)) throw refused();
        const sid = params.get('MessageSid') ?? params.get('CallSid');
        const status = TWILIO_STATUS[params.get('MessageStatus') ?? params.get('CallStatus') ?? ''];
        if (!sid || !status) return false;
        const code = params.get('ErrorCode');
        return deps.deliveries.report(providerId, { messageId: sid }, status, code ? `provider error ${withoutNumbers(code).slice(0, 32)}` : null);
      }
      if (!verifyPayload(secret, report.rawBody, report.idpSignature, deps.clock.now())) throw refused();
      let json: unknown;
      try {
        json = JSON.parse(report.rawBody);
      } catch {
        throw new IdpError('invalid_request', 'body: must be JSON');
      }
      const parsed = webhookReport.safeParse(json);
      if (!parsed.success) throw new IdpError('invalid_request', `${parsed.error.issues[0]!.path.join('.') || 'body'}: ${parsed.error.issues[0]!.message}`);
      return deps.deliveries.report(
        providerId,
        { deliveryId: parsed.data.id },
        parsed.data.status,
        parsed.data.error ? withoutNumbers(parsed.data.error) : null,
      );
    },
  };
}

export type DeliveryStatusService = ReturnType<typeof createDeliveryStatusService>;
