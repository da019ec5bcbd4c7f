import { outbox, type OutboxMessage } from './outbox.js';

export { outbox };

/** The code a message carries: an SMS or voice code as it is, an e-mail's (channel `email`) in its `code` template's data. */
const codeOf = (m: OutboxMessage): string | undefined => m.code ?? (m.template === 'code' ? m.data?.code : undefined);

/** The codes sent to `to`, oldest first. */
export const codesTo = async (dataDir: string, to: string) =>
  (await outbox(dataDir)).flatMap((m) => {
    const code = m.to === to ? codeOf(m) : undefined;
    return code === undefined ? [] : [{ ...m, code, channel: m.channel ?? 'email' }];
  });

/** The latest code sent to `to`. */
export async function lastCodeTo(dataDir: string, to: string): Promise<OutboxMessage & { code: string }> {
  const sent = await codesTo(dataDir, to);
  const last = sent[sent.length - 1];
  if (!last?.code) throw new Error('no code was sent there');
  return last;
}

/** A six-digit code that is not `code`. */
export const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
