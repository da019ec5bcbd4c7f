import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/logger.js';
import { phoneTexts } from './code-texts.js';
import type { CodeDelivery, Delivered, MailDelivery, OutgoingCode, OutgoingMail } from './delivery.js';
import type { MailTemplates } from './mail-templates.js';
import type { WordingFor } from './wording.js';

/**
 * The embedded default when no SMS provider or SMTP server is configured: each message is written
 * as a file to `dir` (one JSON file per message, with the text the person would have read) and the
 * log says it was not delivered and where it went. The log line never holds the code, the number
 * or the address.
 */
export function createOutbox(dir: string, logger: Pick<Logger, 'warn'>, render: { mail: MailTemplates; wording: WordingFor }): CodeDelivery & MailDelivery {
  async function write(kind: string, message: Record<string, unknown>): Promise<Delivered> {
    const deliveryId = randomUUID();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${kind}-${deliveryId}.json`);
    await writeFile(file, JSON.stringify(message, null, 2), { mode: 0o600 });
    logger.warn({ kind, file }, 'no delivery provider is configured: the message was written to the outbox, not sent');
    return { deliveryId, provider: 'outbox' };
  }

  async function rendered(message: OutgoingCode | OutgoingMail): Promise<[string, Record<string, unknown>]> {
    if (!('channel' in message)) {
      const { lang, subject, text } = await render.mail.render(message);
      return ['email', { ...message, locale: lang, subject, text }];
    }
    if (message.channel === 'email') {
      const { lang, subject, text } = await render.mail.render({ ...message, template: 'code', data: { code: message.code, purpose: message.purpose } });
      return ['email', { ...message, locale: lang, subject, text }];
    }
    const w = await render.wording(message);
    return [message.channel, { ...message, locale: w.lang, ...phoneTexts(w, message.channel, message.purpose, message.code) }];
  }

  return {
    send: async (message: OutgoingCode | OutgoingMail) => write(...(await rendered(message))),
  };
}
