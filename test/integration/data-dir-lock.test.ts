/**
 * The embedded database (PGlite) belongs to one process at a time: a second process writing the
 * same data directory loses its writes. The CLI beside a running `npm start` must refuse, loudly,
 * and work once the server has stopped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';
import { StartupError } from '../../src/lib/startup-error.js';
import { openDatabase } from '../../src/store/db.js';
import { ADMIN_KEY, TEST_ENCRYPTION_KEY } from '../helpers/env.js';
import { freePort, spawnManaged, startIdpProcess, type IdpProcess } from '../helpers/processes.js';

const PASSWORD = 'correct horse battery staple';

/** `npm run cli -- …` as an operator runs it, on the given data directory. */
async function cli(dataDir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const proc = spawnManaged(process.execPath, ['--import', 'tsx', path.join('src', 'cli.ts'), ...args], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATA_DIR: dataDir, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY },
  });
  const timer = setTimeout(() => {
    void proc.stop(1000);
  }, 30_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output() };
}

/** The IdP as `npm start` runs it on the embedded database in `dataDir` (no PostgreSQL server, no Redis). */
async function startEmbeddedIdp(dataDir: string): Promise<IdpProcess> {
  const port = await freePort();
  return startIdpProcess({
    port,
    issuer: `http://localhost:${port}`,
    schema: 'unused',
    redisKeyPrefix: 'unused',
    env: { DATABASE_URL: '', REDIS_URL: '', IDP_DATABASE_SCHEMA: '', IDP_REDIS_KEY_PREFIX: '', DATA_DIR: dataDir },
  });
}

const profile = async (idp: IdpProcess, externalId: string) =>
  (await fetch(`${idp.url}/api/v1/users/profile?externalUserId=${externalId}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status;

describe('CLI beside a running IdP on the embedded database', () => {
  let dataDir: string;
  let idp: IdpProcess | undefined;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-lock-'));
  });
  afterAll(async () => {
    await idp?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('refuses with a message and a non-zero exit while the server runs; works once it has stopped', async () => {
    idp = await startEmbeddedIdp(dataDir);

    const refused = await cli(dataDir, ['users', 'create', '--external-id', 'lock-1', '--username', 'lockie', '--password', PASSWORD]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/in use/);
    expect(refused.output).toContain(String(idp.child.pid));
    expect(refused.output).not.toMatch(/"id"/);
    expect(refused.output).not.toMatch(/^\s+at /m);
    // `migrate` opens the same directory: refused too.
    expect((await cli(dataDir, ['migrate'])).code).not.toBe(0);
    expect(await profile(idp, 'lock-1')).toBe(404);

    await idp.stop();
    idp = undefined;
    const created = await cli(dataDir, ['users', 'create', '--external-id', 'lock-1', '--username', 'lockie', '--password', PASSWORD]);
    expect(created.code).toBe(0);
    expect(created.output).toMatch(/"external_id":"lock-1"/);

    // The user the CLI created is there for the server that starts next.
    idp = await startEmbeddedIdp(dataDir);
    expect(await profile(idp, 'lock-1')).toBe(200);
  }, 180_000);
});

describe('data directory lock', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-lock-unit-'));
  });
  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('a second open while the first is open is refused; close releases the lock', async () => {
    const lock = path.join(dataDir, 'pglite.lock');
    const first = await openDatabase({ dataDir });
    try {
      expect(fs.readFileSync(lock, 'utf8').trim()).toBe(String(process.pid));
      await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(StartupError);
    } finally {
      await first.close();
    }
    expect(fs.existsSync(lock)).toBe(false);
  }, 60_000);

  test('a lock left by a process that no longer exists is ignored', async () => {
    const gone = spawnManaged(process.execPath, ['-e', '']);
    await gone.exited;
    fs.writeFileSync(path.join(dataDir, 'pglite.lock'), `${gone.child.pid}\n`);
    const handle = await openDatabase({ dataDir });
    await handle.close();
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
  }, 60_000);
});
