import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** A message the outbox delivery wrote: a code (`channel`, `code`) or an e-mail (`template`, `data`). */
export interface OutboxMessage {
  file: string;
  to: string;
  channel?: string;
  code?: string;
  purpose?: string;
  template?: string;
  data?: Record<string, unknown>;
}

/** Every message of the IdP's outbox (`<dataDir>/outbox`), oldest first. */
export async function outbox(dataDir: string): Promise<OutboxMessage[]> {
  const dir = path.join(dataDir, 'outbox');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({ file, ...(JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Omit<OutboxMessage, 'file'>) })));
}

/** The code a message carries: a text or a call's own, or an e-mail's of the `code` template (sent as mail, channel `email`). */
function asCode(m: OutboxMessage): OutboxMessage {
  const mailed = m.template === 'code' && typeof m.data?.code === 'string' ? m.data.code : undefined;
  return mailed === undefined ? m : { ...m, channel: 'email', code: mailed };
}

/** The codes sent to `to`, oldest first. */
export const codesTo = async (dataDir: string, to: string) => (await outbox(dataDir)).map(asCode).filter((m) => m.to === to && m.code !== undefined);

/** The latest code sent to `to`. */
export async function lastCodeTo(dataDir: string, to: string): Promise<OutboxMessage & { code: string }> {
  const sent = await codesTo(dataDir, to);
  const last = sent[sent.length - 1];
  if (!last?.code) throw new Error('no code was sent there');
  return last as OutboxMessage & { code: string };
}

/** A six-digit code that is not `code`. */
export const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
