import fs from 'node:fs';
import path from 'node:path';
import { StartupError } from '../lib/startup-error.js';

/** Lock files this process holds; a lock naming our pid that is not here is a previous life's (pid 1 in a container). */
const held = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * PGlite is a single-process database: a second process opening the same directory works on a
 * copy of its own and its writes are lost. The server and the CLI both take this lock, a file with
 * the owner's pid; a lock whose process no longer exists (a crash, kill -9) is taken over.
 * Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = path.resolve(dir, 'pglite.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      held.add(file);
      return () => {
        if (!held.delete(file)) return;
        if (ownerOf(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerOf(file);
    if (owner !== undefined && isAlive(owner) && (owner !== process.pid || held.has(file))) {
      throw new StartupError(
        `the data directory ${dir} is in use by process ${owner}: the embedded database allows one process at a time; ` +
          'stop that process first (while the server runs, use its admin API instead of the CLI)',
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new StartupError(`could not lock the data directory ${dir}: another process keeps taking it`);
}
