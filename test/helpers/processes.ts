import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';
import type { ContainerOptions } from '../../src/container.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type * as oc from 'openid-client';
import { ADMIN_KEY, DATABASE_URL, REDIS_URL, TEST_ENCRYPTION_KEY, testConfig, type Mode } from './env.js';

/** A free TCP port on loopback (the kernel's pick; released before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A child process whose output is kept (the tail) to explain a failure. */
export interface Managed {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Managed {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    child.once('error', (err) => {
      out += `\n[spawn error] ${err.message}`;
      resolve(-1);
    });
  });
  return {
    child,
    output: () => out,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Whether something accepts TCP connections on loopback `port`. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILL: an outage, not a shutdown. */
  kill(): Promise<void>;
}

/**
 * A throw-away redis-server of our own on loopback, without persistence unless `dir` is given
 * (then an append-only file there survives a restart). Pass the `port` of a killed one to bring
 * Redis back where its clients look for it.
 */
export async function startRedis(opts: { port?: number; dir?: string } = {}): Promise<OwnRedis> {
  const port = opts.port ?? (await freePort());
  const persistence = opts.dir ? ['--dir', opts.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const proc = spawnManaged('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence]);
  await waitFor(`redis-server on port ${port}`, () => portOpen(port), { timeoutMs: 10_000, proc });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill() {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** Polls `check` until it returns true; fails early when the process has exited. */
export async function waitFor(what: string, check: () => Promise<boolean>, opts: { timeoutMs: number; proc?: Managed }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exitCode: number | null | undefined;
  void opts.proc?.exited.then((c) => {
    exitCode = c;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${what}: process exited (${exitCode}) before it was ready:\n${opts.proc!.output()}`);
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what}: not ready after ${opts.timeoutMs} ms${opts.proc ? `:\n${opts.proc.output()}` : ''}`);
}

export interface IdpProcessOptions {
  port: number;
  issuer: string;
  schema: string;
  redisKeyPrefix: string;
  env?: Record<string, string>;
}

export interface IdpProcess extends Managed {
  url: string;
  port: number;
}

/**
 * Starts `src/main.ts` as its own OS process (`node --import tsx`), configured only through the
 * environment as an operator would, and waits until /readyz answers 200.
 */
export async function startIdpProcess(o: IdpProcessOptions, timeoutMs = 45_000): Promise<IdpProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    PORT: String(o.port),
    METRICS_PORT: '0',
    ISSUER: o.issuer,
    DATABASE_URL,
    IDP_DATABASE_SCHEMA: o.schema,
    REDIS_URL,
    IDP_REDIS_KEY_PREFIX: o.redisKeyPrefix,
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    BOOTSTRAP_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'warn',
    DATA_DIR: path.join(os.tmpdir(), 'idp-scale-out-data'), // unused: PostgreSQL mode with ENCRYPTION_KEY set
    ...o.env,
  };
  const proc = spawnManaged(process.execPath, ['--import', 'tsx', path.join('src', 'main.ts')], { cwd: projectRoot, env });
  const url = `http://localhost:${o.port}`;
  try {
    await waitFor(`IdP on port ${o.port}`, async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, {
      timeoutMs,
      proc,
    });
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  return { ...proc, url, port: o.port };
}

/**
 * An in-process IdP on an ephemeral port using the given schema/key-prefix name as is, so that
 * several IdPs can share one database. Unlike startTestIdp, stop() leaves the schema in place.
 */
export async function startSharedIdp(
  name: string,
  mode: Mode,
  overrides: Record<string, unknown> = {},
  opts: ContainerOptions = {},
): Promise<RunningServer & { name: string }> {
  const server = await startServer(testConfig(name, mode, overrides), opts);
  return Object.assign(server, { name });
}

export interface ServedRequest {
  port: number;
  method: string;
  path: string;
}

/**
 * Round-robin across several nodes that share one issuer: every request to any of `ports` on
 * localhost is sent to the next node in turn, as a load balancer without affinity would. The same
 * rotation serves the browser (`rewrite`) and openid-client (`customFetch`), and `served` records
 * who answered what.
 */
export function roundRobin(ports: number[]) {
  const served: ServedRequest[] = [];
  let n = 0;
  const route = (url: URL, method: string): URL => {
    if (url.hostname !== 'localhost' || !ports.includes(Number(url.port))) return url;
    const out = new URL(url);
    out.port = String(ports[n++ % ports.length]);
    served.push({ port: Number(out.port), method, path: out.pathname });
    return out;
  };
  return {
    served,
    /** For `new Browser(rewrite)` (the browser's own fetches are GET or POST; method is logged as seen). */
    rewrite: (url: URL) => route(url, 'browser'),
    /** For openid-client's `customFetch`: discovery, token, userinfo. */
    customFetch: ((url, options) => fetch(route(new URL(url), options.method), options as unknown as RequestInit)) satisfies oc.CustomFetch,
  };
}
