/**
 * API keys bound to an organisation see only that organisation's users, clients and settings:
 * everything else answers as if absent (404), lists leave it out, and what they create lands in
 * their organisation. Minting second factors for users (TOTP secrets, backup codes) needs its own
 * scope, idp:mfa:write, and each use is audited with the key's lookup prefix, never its secret.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ADMIN_KEY, DATABASE_URL, TEST_ENCRYPTION_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError, type ApiResponse } from '../helpers/api.js';
import { REDIRECT_URI } from '../helpers/rp.js';
import { totpCode } from '../helpers/mfa.js';
import { API_SCOPES } from '../../src/admin/api-key.service.js';

let idp: TestIdp;
const orgs: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
const keys = { acme: '', acmeWriter: '', globex: '', writer: '', minter: '', acmeMinter: '' };
const prefixes: Record<string, string> = {};

const api = apiClient(() => idp.url);

async function key(name: keyof typeof keys, scopes: string[], org?: 'acme' | 'globex') {
  const { key: k, row } = await idp.container.apiKeys.create(name, scopes as never, org ? orgs[org] : null);
  keys[name] = k;
  prefixes[name] = row.prefix;
}

beforeAll(async () => {
  idp = await startTestIdp('api-key-scoping');
  for (const slug of ['acme', 'globex'] as const) {
    const r = await api('POST', '/organizations', { slug });
    expect(r.status).toBe(201);
    orgs[slug] = r.body.organization.id;
  }
  await key('acme', ['admin'], 'acme');
  await key('acmeWriter', ['idp:read', 'idp:write'], 'acme');
  await key('globex', ['admin'], 'globex');
  await key('writer', ['idp:read', 'idp:write']);
  await key('minter', ['idp:read', 'idp:mfa:write']);
  await key('acmeMinter', ['idp:mfa:write'], 'acme');
});
afterAll(async () => {
  await idp.stop();
});

const userOrg = async (externalId: string) => (await idp.container.accounts.findByExternalId(externalId))?.organizationId;
const q = (externalId: string) => `?externalUserId=${encodeURIComponent(externalId)}`;

describe('users', () => {
  test("an organisation's key creates users in its organisation, and cannot place them elsewhere", async () => {
    expect((await api('POST', '/users', { user: { external_id: 'acme-u1' } }, keys.acme)).status).toBe(201);
    expect(await userOrg('acme-u1')).toBe(orgs.acme);
    expect((await api('POST', '/users', { user: { external_id: 'acme-u2', organization: 'acme' } }, keys.acmeWriter)).status).toBe(201);
    expect(await userOrg('acme-u2')).toBe(orgs.acme);

    for (const organization of ['globex', 'default']) {
      expectJsonError(
        await api('POST', '/users', { user: { external_id: `acme-in-${organization}`, organization } }, keys.acme),
        400,
        'invalid_request',
        'user.organization',
      );
      expect(await userOrg(`acme-in-${organization}`)).toBeUndefined();
    }
  });

  test("another organisation's users are absent: profile and every platform call → 404, nothing changes", async () => {
    await api('POST', '/users', { user: { external_id: 'globex-u1', password: 'correct horse battery staple' } }, keys.globex);
    await api('POST', '/users', { user: { external_id: 'default-u1' } });
    const globexUser = await idp.container.accounts.findByExternalId('globex-u1');
    await idp.container.accounts.update(globexUser!.id, { failedAttempts: 3 });

    for (const externalId of ['globex-u1', 'default-u1', 'nobody']) {
      for (const k of [keys.acme, keys.acmeWriter]) {
        const calls: Promise<ApiResponse>[] = [
          api('GET', `/users/profile${q(externalId)}`, undefined, k),
          api('POST', `/users/otp${q(externalId)}`, { otp: { issuer_name: 'Acme', account_name: 'x@example.test' } }, keys.acme),
          api('POST', `/users/backup-codes${q(externalId)}`, undefined, keys.acme),
          api('POST', '/otp/verify', { otp: { id: externalId, code: '123456' } }, k),
          api('POST', `/users/unlock${q(externalId)}`, undefined, k),
          api('GET', `/users/devices${q(externalId)}`, undefined, k),
          api('DELETE', `/users/devices/00000000-0000-0000-0000-000000000000${q(externalId)}`, undefined, k),
        ];
        const user = await idp.container.accounts.findByExternalId(externalId);
        if (user) calls.push(api('GET', `/users/${user.id}/devices`, undefined, k));
        for (const r of await Promise.all(calls)) expectJsonError(r, 404, 'not_found');
      }
    }
    const after = await idp.container.accounts.findByExternalId('globex-u1');
    expect(after?.failedAttempts).toBe(3);
    expect(after?.mfaFailedAttempts).toBe(0);
    expect(await idp.container.credentials.countActiveByKind(globexUser!.id)).toEqual({});
    expect((await api('GET', `/users/profile${q('globex-u1')}`, undefined, keys.globex)).status).toBe(200);
    expect((await api('GET', `/users/profile${q('globex-u1')}`)).status).toBe(200);
  });

  test("another organisation's key cannot spend a user's verification budget", async () => {
    await api('POST', '/users', { user: { external_id: 'globex-u2' } }, keys.globex);
    const verify = (k: string) => api('POST', '/otp/verify', { otp: { id: 'globex-u2', code: '000000' } }, k);
    const limit = idp.container.config.mfa.attemptsPerChallenge;
    const foreign = await Promise.all(Array.from({ length: limit + 5 }, () => verify(keys.acmeWriter)));
    expect(foreign.every((r) => r.status === 404 || r.status === 429)).toBe(true);
    const own = await verify(keys.globex);
    expect(own.status).not.toBe(429);
    expect(own.status).toBeLessThan(500);
  });
});

describe('clients', () => {
  let acmeClient: string;
  let globexClient: string;

  beforeAll(async () => {
    const a = await api('POST', '/clients', { client_name: 'Acme app', redirect_uris: [REDIRECT_URI] }, keys.acme);
    const g = await api('POST', '/clients', { client_name: 'Globex app', redirect_uris: [REDIRECT_URI] }, keys.globex);
    expect([a.status, g.status]).toEqual([201, 201]);
    acmeClient = a.body.client_id;
    globexClient = g.body.client_id;
  });

  const orgOf = async (clientId: string) => (await idp.container.clients.find(clientId))?.organizationId;

  test("a client created with an organisation's key belongs to that organisation", async () => {
    expect(await orgOf(acmeClient)).toBe(orgs.acme);
    expect(await orgOf(globexClient)).toBe(orgs.globex);
  });

  test("lists hold only the key's organisation's clients; a global key sees them all", async () => {
    const ids = async (k: string) => (await api('GET', '/clients?limit=100', undefined, k)).body.clients.map((c: { client_id: string }) => c.client_id);
    expect(await ids(keys.acme)).toEqual([acmeClient]);
    expect(await ids(keys.globex)).toEqual([globexClient]);
    expect(await ids(ADMIN_KEY)).toEqual(expect.arrayContaining([acmeClient, globexClient]));
  });

  test("another organisation's client is absent: read, update, delete → 404, and it is unchanged", async () => {
    const before = await idp.container.clients.find(globexClient);
    expectJsonError(await api('GET', `/clients/${globexClient}`, undefined, keys.acme), 404, 'not_found');
    expectJsonError(await api('PATCH', `/clients/${globexClient}`, { client_name: 'Pwned', rotate_secret: true }, keys.acme), 404, 'not_found');
    expectJsonError(await api('DELETE', `/clients/${globexClient}`, undefined, keys.acme), 404, 'not_found');
    expect(await idp.container.clients.find(globexClient)).toEqual(before);
    expect((await api('GET', `/clients/${globexClient}`, undefined, keys.globex)).body.client_name).toBe('Globex app');
    expect((await api('PATCH', `/clients/${acmeClient}`, { client_name: 'Acme app 2' }, keys.acme)).status).toBe(200);
  });
});

describe('settings and organisations', () => {
  test("an organisation's key reads and changes its own organisation's settings", async () => {
    expect((await api('GET', '/organizations/acme/settings', undefined, keys.acme)).status).toBe(200);
    const r = await api('PATCH', '/organizations/acme/settings', { lockout: { max_failures: 7 } }, keys.acme);
    expect(r.status).toBe(200);
    expect(r.body.lockout.max_failures).toBe(7);
    expect((await api('GET', '/organizations/acme', undefined, keys.acme)).status).toBe(200);
  });

  test('another organisation and its settings are absent → 404, unchanged', async () => {
    const before = await api('GET', '/organizations/globex/settings');
    expectJsonError(await api('GET', '/organizations/globex/settings', undefined, keys.acme), 404, 'not_found');
    expectJsonError(await api('PATCH', '/organizations/globex/settings', { lockout: { max_failures: 1 } }, keys.acme), 404, 'not_found');
    expectJsonError(await api('GET', '/organizations/globex', undefined, keys.acme), 404, 'not_found');
    expectJsonError(await api('GET', '/organizations/default/settings', undefined, keys.acme), 404, 'not_found');
    expect((await api('GET', '/organizations/globex/settings')).body).toEqual(before.body);
  });

  test("global settings and new organisations are out of an organisation's key's reach → 403, unchanged", async () => {
    const before = await api('GET', '/settings');
    expectJsonError(await api('GET', '/settings', undefined, keys.acme), 403);
    expectJsonError(await api('PATCH', '/settings', { lockout: { max_failures: 1 } }, keys.acme), 403);
    expectJsonError(await api('POST', '/organizations', { slug: 'acme-sub' }, keys.acme), 403);
    expect((await api('GET', '/settings')).body).toEqual(before.body);
    expect(await idp.container.organizations.findBySlug('acme-sub')).toBeUndefined();
  });
});

describe('minting second factors needs idp:mfa:write', () => {
  test('the scope exists, and the bootstrap key holds it', async () => {
    expect(API_SCOPES).toContain('idp:mfa:write');
    const boot = await idp.container.db.selectFrom('apiKeys').select('scopes').where('name', '=', 'bootstrap').executeTakeFirstOrThrow();
    expect(boot.scopes).toEqual(expect.arrayContaining([...API_SCOPES]));
  });

  test('an idp:write key cannot mint backup codes or TOTP secrets → 403; the user gets no factor', async () => {
    const { body } = await api('POST', '/users', { user: { external_id: 'victim' } }, keys.writer);
    expectJsonError(await api('POST', `/users/backup-codes${q('victim')}`, undefined, keys.writer), 403, 'insufficient_scope');
    expectJsonError(
      await api('POST', `/users/otp${q('victim')}`, { otp: { issuer_name: 'Evil', account_name: 'victim' } }, keys.writer),
      403,
      'insufficient_scope',
    );
    expect(await idp.container.credentials.countActiveByKind(body.user.id)).toEqual({});
    expect(await idp.container.credentials.findPending(body.user.id, 'totp')).toBeUndefined();
    // idp:write keeps what it had: verifying codes, unlocking.
    expect((await api('POST', `/users/unlock${q('victim')}`, undefined, keys.writer)).status).toBe(200);
  });

  test("an idp:mfa:write key mints them; each use is audited with the key's prefix, never the key", async () => {
    const { body } = await api('POST', '/users', { user: { external_id: 'enrolled' } }, keys.writer);
    const otp = await api('POST', `/users/otp${q('enrolled')}`, { otp: { issuer_name: 'Acme', account_name: 'enrolled' } }, keys.minter);
    expect(otp.status).toBe(200);
    expect((await api('POST', '/otp/verify', { otp: { id: 'enrolled', code: await totpCode(otp.body.user.new_otp_secret, -1) } }, keys.writer)).status).toBe(
      200,
    );
    const codes = await api('POST', `/users/backup-codes${q('enrolled')}`, undefined, keys.minter);
    expect(codes.status).toBe(200);
    expect(codes.body.user.backup_codes).toHaveLength(10);

    const events = await idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', body.user.id).execute();
    const minted = events.filter((e) => ['authn.enrollment.started', 'authn.backup_codes.regenerated'].includes(e.type));
    expect(minted.map((e) => [e.type, e.actor])).toEqual([
      ['authn.enrollment.started', `apikey:${prefixes.minter}`],
      ['authn.backup_codes.regenerated', `apikey:${prefixes.minter}`],
    ]);
    const secret = keys.minter.slice(prefixes.minter!.length);
    for (const e of events) expect(JSON.stringify(e)).not.toContain(secret);
  });

  test("an organisation's idp:mfa:write key mints only for its own users", async () => {
    expect((await api('POST', `/users/backup-codes${q('acme-u1')}`, undefined, keys.acmeMinter)).status).toBe(200);
    expectJsonError(await api('POST', `/users/backup-codes${q('globex-u1')}`, undefined, keys.acmeMinter), 404, 'not_found');
    expectJsonError(await api('POST', `/users/backup-codes${q('enrolled')}`, undefined, keys.acmeMinter), 404, 'not_found');
  });
});

describe('the CLI', () => {
  test('apikeys create --organization binds the key to that organisation', async () => {
    const env = {
      ...process.env,
      DATABASE_URL,
      IDP_DATABASE_SCHEMA: idp.name,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      LOG_LEVEL: 'silent',
      REDIS_URL: '',
    };
    const run = (args: string[]) => promisify(execFile)('npx', ['tsx', 'src/cli.ts', ...args], { env, cwd: process.cwd() });
    const { stdout } = await run(['apikeys', 'create', '--name', 'acme-cli', '--scopes', 'idp:read,idp:mfa:write', '--organization', 'acme']);
    const cliKey = /API key \(shown once, store it now\): (\S+)/.exec(stdout)![1]!;
    const row = await idp.container.apiKeys.authenticate(cliKey);
    expect(row).toMatchObject({ organizationId: orgs.acme, scopes: ['idp:read', 'idp:mfa:write'] });
    expect((await api('GET', `/users/profile${q('acme-u1')}`, undefined, cliKey)).status).toBe(200);
    expectJsonError(await api('GET', `/users/profile${q('globex-u1')}`, undefined, cliKey), 404, 'not_found');

    await expect(run(['apikeys', 'create', '--name', 'nowhere', '--scopes', 'idp:read', '--organization', 'no-such-org'])).rejects.toMatchObject({
      stderr: expect.stringContaining('no-such-org'),
    });
  }, 60_000);
});
