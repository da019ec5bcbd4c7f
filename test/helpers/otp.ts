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

/** The codes sent to `to`, oldest first: a text or a call carries its code as `code`, an e-mail (template `code`) in its data. */
export const codesTo = async (dataDir: string, to: string) =>
  (await outbox(dataDir)).flatMap((m) => {
    const code = m.code ?? (m.template === 'code' ? m.data?.code : undefined);
    return m.to === to && typeof code === 'string' ? [{ ...m, code }] : [];
  });

/** The latest code sent to `to`. */
export async function lastCodeTo(dataDir: string, to: string): Promise<OutboxMessage & { code: string }> {
  const sent = await codesTo(dataDir, to);
  const last = sent[sent.length - 1];
  if (!last) throw new Error('no code was sent there');
  return last;
}

/** A six-digit code that is not `code`. */
export const otherCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
