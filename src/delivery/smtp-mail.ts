import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { IdpError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { Delivered, MailDelivery } from './delivery.js';
import type { MailTemplates } from './mail-templates.js';

export interface SmtpMailOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465`. */
  url: string;
  from: string;
  timeoutMs: number;
  templates: MailTemplates;
  metrics: Pick<Metrics, 'deliveries'>;
  logger: Pick<Logger, 'warn'>;
}

/** E-mail over SMTP: each message rendered in the recipient's language and handed to the configured server. */
export function createSmtpMail(opts: SmtpMailOptions): MailDelivery & { close(): void } {
  const transport = nodemailer.createTransport({
    url: opts.url,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
  });
  return {
    async send(mail): Promise<Delivered> {
      const { subject, text, html } = await opts.templates.render(mail);
      const deliveryId = randomUUID();
      try {
        const info = (await transport.sendMail({ from: opts.from, to: mail.to, subject, text, html })) as { rejected?: unknown[] };
        if (info.rejected?.length) throw new Error('recipient rejected');
      } catch (err) {
        opts.metrics.deliveries.inc({ channel: 'email', provider: 'smtp', outcome: 'refused' });
        // The server's answer may quote the address: only its code goes to the log.
        opts.logger.warn(
          { template: mail.template, smtpCode: (err as { responseCode?: unknown }).responseCode, deliveryId },
          'the mail server did not take the message',
        );
        throw new IdpError('delivery_failed', 'the e-mail could not be sent; try again later', { detail: { template: mail.template } });
      }
      opts.metrics.deliveries.inc({ channel: 'email', provider: 'smtp', outcome: 'accepted' });
      return { deliveryId, provider: 'smtp' };
    },
    close: () => transport.close(),
  };
}
