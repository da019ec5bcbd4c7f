import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import type { Argon2Ack, ChildMessage, ParentMessage, SeedTotpAck, SeedTotpRequest } from '../lib/protocol.js';

/**
 * The child side of the IPC channel: answers stats requests, shuts down on request, on SIGTERM,
 * when the parent goes away (channel closed) and, whatever happens, after `maxLifetimeMs`.
 */
export function serveIpc(opts: {
  counters: () => { pg: Record<string, number>; redis: Record<string, number> };
  close: () => Promise<void>;
  maxLifetimeMs: number;
  /** Seeding of TOTP users (our server only). */
  seedTotp?: (req: SeedTotpRequest) => Promise<NonNullable<SeedTotpAck['users']>>;
  /** Mean cost of one argon2id password verify (our server only). */
  argon2?: (count: number) => Promise<{ cpuMs: number; wallMs: number }>;
}): { send(msg: ChildMessage): void } {
  if (!process.send) throw new Error('bench servers must be started by bench/run.ts (no IPC channel)');
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => process.exit(code), 3000);
    hard.unref();
    opts
      .close()
      .catch(() => {})
      .finally(() => process.exit(code));
  };
  let session: Session | undefined;
  const profile = async (action: 'start' | 'stop', file?: string) => {
    if (action === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
      return;
    }
    if (!session) throw new Error('profiler not started');
    const { profile: result } = await session.post('Profiler.stop');
    session.disconnect();
    session = undefined;
    if (file) fs.writeFileSync(file, JSON.stringify(result));
  };
  process.on('message', (raw) => {
    const msg = raw as ParentMessage;
    if (msg.type === 'shutdown') stop(0);
    else if (msg.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ type: 'cpu', id: msg.id, user, system } satisfies ChildMessage);
    } else if (msg.type === 'profile') {
      profile(msg.action, msg.file).then(
        () => process.send!({ type: 'profile', id: msg.id } satisfies ChildMessage),
        (err: unknown) => process.send!({ type: 'profile', id: msg.id, error: String(err) } satisfies ChildMessage),
      );
    } else if (msg.type === 'seed-totp') {
      const run = opts.seedTotp ? opts.seedTotp(msg) : Promise.reject(new Error('this server cannot seed TOTP users'));
      run.then(
        (users) => process.send!({ type: 'seed-totp', id: msg.id, users } satisfies ChildMessage),
        (err: unknown) =>
          process.send!({ type: 'seed-totp', id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies ChildMessage),
      );
    } else if (msg.type === 'argon2') {
      const run = opts.argon2 ? opts.argon2(msg.count) : Promise.reject(new Error('this server does not verify passwords'));
      run.then(
        (cost) => process.send!({ type: 'argon2', id: msg.id, ...cost } satisfies Argon2Ack),
        (err: unknown) => process.send!({ type: 'argon2', id: msg.id, error: String(err) } satisfies Argon2Ack),
      );
    } else if (msg.type === 'stats') {
      const elu = performance.eventLoopUtilization();
      process.send!({
        type: 'stats',
        id: msg.id,
        memory: process.memoryUsage(),
        elu: { idle: elu.idle, active: elu.active },
        ...opts.counters(),
      } satisfies ChildMessage);
    }
  });
  process.on('disconnect', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
  setTimeout(() => {
    console.error(`bench server: maximum lifetime (${opts.maxLifetimeMs} ms) reached, exiting`);
    stop(2);
  }, opts.maxLifetimeMs).unref();
  return { send: (msg) => process.send!(msg) };
}

export const maxLifetimeMs = () => Number(process.env.BENCH_MAX_LIFETIME_MS ?? 15 * 60_000);
