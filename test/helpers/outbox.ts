import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** One message the outbox delivery wrote: an e-mail (`template`, `data`) or a code (`channel`, `code`). */
export interface OutboxMessage {
  to: string;
  template?: string;
  data?: { title?: string; lines?: string[]; link?: string };
  channel?: string;
  code?: string;
  purpose?: string;
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
