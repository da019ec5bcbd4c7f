import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/logger.js';
import type { CodeDelivery, Delivered, MailDelivery, OutgoingCode, OutgoingMail } from './delivery.js';

/**
 * The embedded default when no SMS provider or SMTP server is configured: each message is written
 * as a file to `dir` (one JSON file per message) and the log says it was not delivered and where it
 * went. The log line never holds the code, the number or the address.
 */
export function createOutbox(dir: string, logger: Pick<Logger, 'warn'>): CodeDelivery & MailDelivery {
  async function write(kind: string, message: OutgoingCode | OutgoingMail): Promise<Delivered> {
    const deliveryId = randomUUID();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${kind}-${deliveryId}.json`);
    await writeFile(file, JSON.stringify(message, null, 2), { mode: 0o600 });
    logger.warn({ kind, file }, 'no delivery provider is configured: the message was written to the outbox, not sent');
    return { deliveryId, provider: 'outbox' };
  }
  return {
    send: (message: OutgoingCode | OutgoingMail) => write('channel' in message ? message.channel : 'email', message),
  };
}
