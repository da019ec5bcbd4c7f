import crypto from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { ContainerOptions } from '../../src/container.js';

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
export const ADMIN_KEY = 'test-bootstrap-admin-key-0123456789abcdef';

/** A name unique to this test file run: its PostgreSQL schema and Redis key prefix. */
export function uniqueName(label: string): string {
  return `t_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 20)}_${crypto.randomBytes(4).toString('hex')}`;
}

export type Mode = 'postgres+redis' | 'postgres' | 'pglite';

/** Config for one test file: its own schema and key prefix so files run in parallel. */
export function testConfig(name: string, mode: Mode = 'postgres+redis', overrides: Record<string, unknown> = {}): Config {
  return loadConfig(
    {},
    {
      nodeEnv: 'test',
      port: 0,
      metricsPort: 0,
      logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
      encryptionKey: TEST_ENCRYPTION_KEY,
      bootstrapApiKey: ADMIN_KEY,
      dataDir: ':memory:',
      ...(mode === 'pglite' ? {} : { databaseUrl: DATABASE_URL, databaseSchema: name }),
      ...(mode === 'postgres+redis' ? { redisUrl: REDIS_URL, redisKeyPrefix: `${name}:` } : {}),
      ...overrides,
    },
  );
}

export async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${name}" cascade`);
  } finally {
    await client.end();
  }
}

/** Starts a real IdP on an ephemeral port; `stop()` also drops its schema. */
export async function startTestIdp(label: string, mode: Mode = 'postgres+redis', overrides: Record<string, unknown> = {}, opts: ContainerOptions = {}) {
  const name = uniqueName(label);
  const server: RunningServer = await startServer(testConfig(name, mode, overrides), opts);
  return {
    ...server,
    name,
    async stop() {
      await server.close();
      if (mode !== 'pglite') await dropSchema(name);
    },
  };
}

export type TestIdp = Awaited<ReturnType<typeof startTestIdp>>;
