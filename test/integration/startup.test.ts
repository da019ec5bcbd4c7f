/**
 * Start-up as an operator meets it: a misspelt setting stops the process and names itself, a busy
 * port is one line (no stack trace), and requests that arrive while the IdP is still starting get
 * a prompt 503 instead of hanging.
 */
import net from 'node:net';
import path from 'node:path';
import { ConfigError, loadConfig, projectRoot } from '../../src/config.js';
import { StartupError } from '../../src/lib/startup-error.js';
import { startServer } from '../../src/server.js';
import { ADMIN_KEY, DATABASE_URL, TEST_ENCRYPTION_KEY, dropSchema, testConfig, uniqueName } from '../helpers/env.js';
import { freePort, spawnManaged, waitFor, type Managed } from '../helpers/processes.js';

const configError = (env: Record<string, string>, overrides: Record<string, unknown> = {}): string => {
  try {
    loadConfig(env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ env, overrides })}`);
};

/** Holds `port` on every interface, as another program would. */
const occupy = (port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject).listen(port, () => resolve(srv));
  });

/** The exit code, or 'still running' if the process has not stopped within 20 s. */
const exitOf = (proc: Managed) => Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000).unref())]);

/** What the process said, minus the provider's notice about the Node.js version it prefers. */
const errorLines = (output: string) =>
  output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('oidc-provider WARNING'));

describe('unknown settings stop start-up', () => {
  test.each([
    ['IDP_SESSION__IDLESECONDS', '60'],
    ['IDP_LOCKOUT__MAXFAILURES', '3'],
    ['IDP_NO_SUCH_SETTING', 'x'],
    ['IDP_RATE_LIMIT__LOGIN_PER_IP', '10'],
  ])('%s=%s → ConfigError naming the variable', (name, value) => {
    expect(configError({ [name]: value })).toContain(name);
  });

  test('a misspelt key in the configuration file or overrides is refused too', () => {
    expect(configError({}, { session: { idleSecond: 60 } })).toContain('session.idleSecond');
    expect(configError({}, { metricsPorts: 9100 })).toContain('metricsPorts');
  });

  test('correctly spelt variables still apply', () => {
    expect(loadConfig({ IDP_SESSION__IDLE_SECONDS: '60' }).session.idleSeconds).toBe(60);
  });

  test('the real process exits non-zero on a misspelt variable, naming it in one line', async () => {
    const proc = spawnManaged(process.execPath, ['--import', 'tsx', path.join('src', 'main.ts')], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', PORT: '0', IDP_SESSION__IDLESECONDS: '60' },
    });
    try {
      expect(await exitOf(proc)).not.toBe(0);
      expect(errorLines(proc.output())).toEqual([expect.stringContaining('IDP_SESSION__IDLESECONDS')]);
    } finally {
      await proc.stop(1000);
    }
  }, 30_000);
});

describe('a busy port', () => {
  test('`main.ts` on a port in use exits non-zero with one line naming the port, no stack trace', async () => {
    const port = await freePort();
    const squatter = await occupy(port);
    const schema = uniqueName('busy-port');
    try {
      const proc = spawnManaged(process.execPath, ['--import', 'tsx', path.join('src', 'main.ts')], {
        cwd: projectRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'test',
          LOG_LEVEL: 'warn',
          PORT: String(port),
          METRICS_PORT: '0',
          DATABASE_URL,
          IDP_DATABASE_SCHEMA: schema,
          ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
          BOOTSTRAP_API_KEY: ADMIN_KEY,
        },
      });
      const code = await exitOf(proc);
      await proc.stop(1000);
      expect(code).toEqual(expect.any(Number));
      expect(code).not.toBe(0);
      const lines = errorLines(proc.output());
      expect(lines).toEqual([expect.stringContaining(String(port))]);
      expect(lines[0]).toMatch(/in use/);
      expect(proc.output()).not.toMatch(/^\s+at /m);
    } finally {
      squatter.close();
      await dropSchema(schema);
    }
  }, 30_000);

  test('a busy metrics port is refused the same way, before anything is built', async () => {
    const port = await freePort();
    const squatter = await occupy(port);
    try {
      const err = await startServer(testConfig(uniqueName('busy-metrics'), 'pglite', { metricsPort: port })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toContain(`METRICS_PORT 127.0.0.1:${port} is already in use`);
    } finally {
      squatter.close();
    }
  });
});

describe('requests during start-up', () => {
  test('answer 503 temporarily_unavailable with Retry-After at once, then the IdP serves once ready', async () => {
    // Redis is not up yet when the IdP starts (compose brings services up in any order): start-up
    // waits for it, and requests arrive meanwhile.
    const [port, redisPort] = await Promise.all([freePort(), freePort()]);
    const name = uniqueName('startup');
    const starting = startServer(testConfig(name, 'postgres+redis', { port, redisUrl: `redis://127.0.0.1:${redisPort}` }));
    const failed = starting.then(
      () => false,
      () => true,
    );
    let redis: ReturnType<typeof spawnManaged> | undefined;
    try {
      const url = `http://localhost:${port}`;
      await waitFor('the port to open', async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).status > 0, { timeoutMs: 10_000 });

      const started = Date.now();
      const answers = await Promise.all([
        ...Array.from({ length: 10 }, () => fetch(`${url}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(3000) })),
        fetch(`${url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }), signal: AbortSignal.timeout(3000) }),
        fetch(`${url}/interaction/abc/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: '{}',
          signal: AbortSignal.timeout(3000),
        }),
      ]);
      expect(Date.now() - started).toBeLessThan(3000);
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
        expect(await res.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      }
      expect(await Promise.race([failed, new Promise((r) => setTimeout(() => r('pending'), 0))])).toBe('pending');

      redis = spawnManaged('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
      const server = await starting;
      try {
        expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(200);
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
      } finally {
        await server.close();
      }
    } finally {
      await redis?.stop();
      await dropSchema(name);
    }
  }, 30_000);
});
