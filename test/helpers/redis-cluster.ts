import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { REDIS_URL } from './env.js';
import { spawnManaged, waitFor, type Managed } from './processes.js';

const run = promisify(execFile);

/** Deletes every key under `prefix` (SCAN patterns do not see ioredis' keyPrefix, so match it here). */
export async function deleteKeysWithPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const raw = new Redis(url);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (found.length) deleted += await raw.del(...found);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    raw.disconnect();
  }
  return deleted;
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
  return stdout;
}

export interface RedisClusterHandle {
  ports: number[];
  /** `host:port` of every master, as REDIS_CLUSTER_NODES / config.redisClusterNodes expect. */
  nodes: string[];
  /** Number of keys held by each node, in `ports` order. */
  dbsizes(): Promise<number[]>;
  stop(): Promise<void>;
}

// The cluster bus listens on port + 10000, which must stay below 65536 (and off the ephemeral range's top).
const randomPort = () => 20000 + Math.floor(Math.random() * 30000);

async function startNode(dir: string, used: Set<number>): Promise<{ port: number; proc: Managed }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = randomPort();
    if (used.has(port)) continue;
    const proc = spawnManaged('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '5000',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ]);
    try {
      await waitFor(`redis-server :${port}`, async () => (await redisCli(port, 'ping')).trim() === 'PONG', { timeoutMs: 5000, proc });
      used.add(port);
      return { port, proc };
    } catch (err) {
      lastError = err; // most likely the port (or its bus port) was taken: try another
      await proc.stop(500);
    }
  }
  throw new Error(`could not start a redis-server cluster node: ${String(lastError)}`);
}

/** Starts a Redis Cluster of `masters` masters (no replicas) on loopback, as child processes. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-redis-cluster-'));
  const procs: Managed[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop(2000)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const used = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const { port, proc } = await startNode(dir, used);
      procs.push(proc);
      ports.push(port);
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) {
      await waitFor(`cluster state on :${port}`, async () => /cluster_state:ok/.test(await redisCli(port, 'cluster', 'info')), { timeoutMs: 20_000 });
    }
    return {
      ports,
      nodes,
      dbsizes: () => Promise.all(ports.map(async (p) => Number((await redisCli(p, 'dbsize')).trim()))),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
