import type { AuditService } from '../../audit/audit.service.js';
import type { CodeChannel, CodeDelivery, MessagePurpose } from '../../delivery/delivery.js';
import { hmac } from '../../lib/crypto.js';
import { tooManyRequests } from '../../lib/errors.js';
import { requestScope } from '../../lib/request-scope.js';
import type { OtpSettings } from '../../policy/settings.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';
import type { User } from '../../store/database.js';
import { resendTooSoon, type OneTimeCodes } from './codes.js';
import { decoyMask, maskOf, type DestinationKind } from './destination.js';

export interface SenderDeps {
  codes: OneTimeCodes;
  ephemeral: EphemeralStore;
  delivery: { codes: CodeDelivery };
  audit: AuditService;
  /** The `otp` settings of the user's organisation. */
  settings: { effective(orgId?: string): Promise<{ otp: OtpSettings }> };
  key: string;
}

/** Where a code is to go: a destination of the account (opened), or an id it does not have (`to` absent: nothing is sent). */
export interface SendRequest {
  user: Pick<User, 'id' | 'organizationId' | 'locale' | 'name'>;
  binding: string;
  channel: CodeChannel;
  kind: DestinationKind;
  destinationId: string;
  to?: string;
  purpose: MessagePurpose;
  /** The language of the page the code was asked from; the user's own (`users.locale`) otherwise. */
  locale?: string;
}

/** What the client is told of a send, the same whether or not the destination exists. */
export interface Sent {
  status: 'code_sent';
  mask: string;
  retry_after: number;
  expires_in: number;
}

/**
 * Sends a code for a binding: at most once per resend interval per binding, and within the
 * organisation's send limits per account, per destination and per address (against SMS pumping).
 * A destination id the account does not have gets the same answer and counts against the same
 * limits, but nothing is sent.
 */
export function createCodeSender(deps: SenderDeps) {
  const { ephemeral } = deps;

  async function withinLimits(otp: OtpSettings, req: SendRequest): Promise<void> {
    const ip = requestScope()?.ip;
    const buckets: [string, number, number][] = [
      [`otp:sends:account:${req.user.id}`, otp.sends_per_account_per_hour, 3600],
      [`otp:sends:destination:${hmac(deps.key, req.destinationId)}`, otp.sends_per_destination_per_10_minutes, 600],
      ...(ip ? [[`otp:sends:ip:${hmac(deps.key, ip)}`, otp.sends_per_ip_per_10_minutes, 600] as [string, number, number]] : []),
    ];
    const counts = await Promise.all(buckets.map(([key, , window]) => ephemeral.increment(key, window)));
    const over = buckets.find(([, limit], i) => counts[i]! > limit);
    if (over) throw tooManyRequests(over[2]);
  }

  return {
    async send(req: SendRequest): Promise<Sent> {
      const { otp } = await deps.settings.effective(req.user.organizationId);
      const wait = await deps.codes.reserveSend(req.binding, otp.resend_after_seconds);
      if (wait > 0) throw resendTooSoon(wait);
      await withinLimits(otp, req);
      const shown: Sent = {
        status: 'code_sent',
        mask: req.to ? maskOf(req.kind, req.to) : decoyMask(req.kind, deps.key, req.destinationId),
        retry_after: otp.resend_after_seconds,
        expires_in: otp.code_ttl_seconds,
      };
      // A code is made and stored for an unknown destination too (the same work, and an earlier code is
      // voided alike), but it goes nowhere, so nothing can answer it.
      const options = { ttlSeconds: otp.code_ttl_seconds, destinationId: req.destinationId, channel: req.channel };
      let latest = await deps.codes.issue(req.binding, options);
      if (!req.to) return shown;
      const delivered = await deps.delivery.codes
        .send({
          channel: req.channel,
          to: req.to,
          code: latest,
          purpose: req.purpose,
          organizationId: req.user.organizationId,
          locale: req.locale ?? req.user.locale,
          name: req.user.name,
          accountId: req.user.id,
          destinationId: req.destinationId,
          // A provider that may have delivered the code is followed by one with a new code, so one phone
          // never gets the same code twice; issuing it voids the earlier one, so only the last sent works.
          codeFor: async () => (latest = await deps.codes.issue(req.binding, options)),
        })
        .catch(async (err: unknown) => {
          // Nothing was accepted, yet the last code may have reached the phone: it must not answer a login
          // the user was told had no code sent.
          await deps.codes.discardIfStill(req.binding, latest);
          throw err;
        });
      await deps.audit.record({
        type: 'authn.otp.sent',
        outcome: 'success',
        subject: req.user.id,
        organizationId: req.user.organizationId,
        data: {
          channel: req.channel,
          destination: req.destinationId,
          purpose: req.purpose,
          provider: delivered.provider,
          delivery_id: delivered.deliveryId,
          attempt: delivered.attempt ?? 0,
        },
      });
      return shown;
    },
  };
}

export type CodeSender = ReturnType<typeof createCodeSender>;
