import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * One message the outbox delivery wrote: an e-mail (`template`, `data`, and the `subject` and `text`
 * the person would read) or a code (`channel`, `code`, and the SMS `text` or the call's `voice` script),
 * each in the `locale` it was written in.
 */
export interface OutboxMessage {
  to: string;
  template?: string;
  data?: { notice?: string; values?: Record<string, unknown>; link?: string; code?: string };
  channel?: string;
  code?: string;
  purpose?: string;
  locale?: string;
  subject?: string;
  text?: string;
  voice?: { language: string; parts: ({ say: string } | { pause: number })[] };
}

/** Every message written to `<dataDir>/outbox` so far, oldest first. */
export async function outbox(dataDir: string): Promise<OutboxMessage[]> {
  const dir = path.join(dataDir, 'outbox');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8')) as OutboxMessage));
}

/** Polls until `pick` finds something (or the time is up: undefined). */
export async function eventually<T>(pick: () => Promise<T | undefined>, ms = 5000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await pick();
    if (found !== undefined || Date.now() > end) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}
