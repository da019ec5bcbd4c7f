import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasTaskset } from './proc.js';
import type { Argon2Ack, ChildMessage, CpuMessage, ParentMessage, ProfileAck, ReadyMessage, SeedTotpAck, SeedTotpRequest, StatsMessage } from './protocol.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerChild {
  label: string;
  pid: number;
  url: string;
  issuer: string;
  pinned: boolean;
  stats(): Promise<StatsMessage>;
  /** CPU time (ms, all threads) the server has used since it started; microsecond resolution. */
  cpuMs(): Promise<number>;
  /** Starts the main thread's CPU profiler, or stops it and writes the .cpuprofile to `file`. */
  profile(action: 'start' | 'stop', file?: string): Promise<void>;
  /** Seeds users with a confirmed TOTP inside the server (our server only); returns their usernames and secrets. */
  seedTotp(req: Omit<SeedTotpRequest, 'type' | 'id'>, timeoutMs?: number): Promise<NonNullable<SeedTotpAck['users']>>;
  /** Mean CPU and wall time of one argon2id password verify inside the server, over `count` (our server only). */
  argon2(count: number): Promise<{ cpuMs: number; wallMs: number }>;
  stop(): Promise<void>;
  logTail(): string;
}

const running = new Set<ChildProcess>();

/** Last resort (process exit, fatal error): SIGKILL every server child still running. */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

export interface SpawnOptions {
  /** CPU list for taskset (e.g. "0"); undefined = not pinned. */
  cpus?: string;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** Starts `node --import tsx <script>` (pinned with taskset when asked) with an IPC channel, and waits for its `ready`. */
export async function spawnServer(label: string, script: string, opts: SpawnOptions): Promise<ServerChild> {
  const nodeArgs = ['--import', 'tsx', path.join(projectRoot, script)];
  const pinned = opts.cpus !== undefined && hasTaskset();
  const [cmd, args] = pinned ? ['taskset', ['-c', opts.cpus!, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  // taskset execs node, so the child's pid is node's pid and the IPC fd is inherited.
  const child = spawn(cmd, args, { cwd: projectRoot, env: opts.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  running.add(child);
  child.once('exit', () => running.delete(child));

  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) tail.push(line.slice(0, 500));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const pending = new Map<number, (m: StatsMessage | ProfileAck | CpuMessage | SeedTotpAck | Argon2Ack) => void>();
  let nextId = 1;
  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label}: not ready within ${opts.readyTimeoutMs ?? 60_000} ms\n${tail.join('\n')}`)),
      opts.readyTimeoutMs ?? 60_000,
    );
    child.on('message', (raw) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg);
      }
      if (msg.type === 'stats' || msg.type === 'profile' || msg.type === 'cpu' || msg.type === 'seed-totp' || msg.type === 'argon2') pending.get(msg.id)?.(msg);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited before ready (code ${code}, signal ${signal})\n${tail.join('\n')}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  let info: ReadyMessage;
  try {
    info = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  const send = (m: ParentMessage) => {
    if (child.connected) child.send(m);
  };
  return {
    label,
    pid: info.pid,
    url: info.url,
    issuer: info.issuer,
    pinned,
    stats() {
      const id = nextId++;
      return new Promise<StatsMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no stats answer`));
        }, 5000);
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(m as StatsMessage);
        });
        send({ type: 'stats', id });
      });
    },
    cpuMs() {
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no cpu answer`));
        }, 5000);
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          const { user, system } = m as CpuMessage;
          resolve((user + system) / 1000);
        });
        send({ type: 'cpu', id });
      });
    },
    profile(action, file) {
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no profiler answer`));
        }, 30_000);
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          const err = (m as ProfileAck).error;
          if (err) reject(new Error(`${label}: profiler: ${err}`));
          else resolve();
        });
        send({ type: 'profile', id, action, ...(file ? { file } : {}) });
      });
    },
    seedTotp(req, timeoutMs = 180_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no answer to seed-totp within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          const ack = m as SeedTotpAck;
          if (ack.error || !ack.users) reject(new Error(`${label}: seed-totp: ${ack.error ?? 'no users'}`));
          else resolve(ack.users);
        });
        send({ type: 'seed-totp', id, ...req });
      });
    },
    argon2(count) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: no argon2 answer`));
        }, 60_000);
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          const ack = m as Argon2Ack;
          if (ack.error || ack.cpuMs === undefined || ack.wallMs === undefined) reject(new Error(`${label}: argon2: ${ack.error ?? 'no figures'}`));
          else resolve({ cpuMs: ack.cpuMs, wallMs: ack.wallMs });
        });
        send({ type: 'argon2', id, count });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'shutdown' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
    logTail: () => tail.join('\n'),
  };
}
