/**
 * API keys and signing keys through the admin API: a key's secret is shown once and stored only as
 * a hash; no key hands out scopes or organisations it lacks, nor changes its own scopes; a
 * revocation holds on every node at once; expired keys authenticate nothing. Signing keys are
 * listed without private parts and rotated as the CLI does. Objects of another organisation answer
 * exactly as absent ones do.
 */
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { createLogger } from '../../src/lib/logger.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError, type ApiResponse } from '../helpers/api.js';
import { REDIRECT_URI } from '../helpers/rp.js';

let idp: TestIdp;
let peer: TestIdp;
let logs = '';
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logs += chunk.toString();
    done();
  },
});
const orgs = { acme: '', globex: '' };
const orgKeys = { acme: '', globex: '' };

const api = apiClient(() => idp.url);
const onPeer = apiClient(() => peer.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createKey(body: Record<string, unknown>, key = ADMIN_KEY) {
  const r = await api('POST', '/api-keys', body, key);
  expect(r.status).toBe(201);
  return r.body as { id: string; key: string; prefix: string; scopes: string[]; organization_id: string | null };
}

const auditRows = (type: string, subject: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).where('subject', '=', subject).execute();

beforeAll(async () => {
  idp = await startTestIdp('api-keys-api', 'postgres+redis', { logLevel: 'debug' }, { logger: createLogger('debug', sink) });
  // A second node on the same database and Redis prefix, as behind a load balancer.
  peer = await startTestIdp('api-keys-peer', 'postgres+redis', { databaseSchema: idp.name, redisKeyPrefix: `${idp.name}:` });
  for (const slug of ['acme', 'globex'] as const) {
    const r = await api('POST', '/organizations', { slug });
    orgs[slug] = r.body.organization.id;
    orgKeys[slug] = (await createKey({ name: `${slug}-admin`, scopes: ['admin'], organization_id: orgs[slug] })).key;
  }
}, 30_000);
afterAll(async () => {
  await peer?.close();
  await idp?.stop();
});

describe('creating, listing and revoking keys', () => {
  test('the secret is shown once: not in the list, the key itself, the audit trail, the logs or the database', async () => {
    const r = await api('POST', '/api-keys', { name: 'reader', scopes: ['idp:read'] });
    expect(r.status).toBe(201);
    expect(r.res.headers.get('cache-control')).toBe('no-store');
    const { key, id, prefix } = r.body;
    expect(key).toMatch(/^idp_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
    expect(r.body).toEqual({
      id: expect.any(String),
      name: 'reader',
      prefix: key.slice(0, 12),
      scopes: ['idp:read'],
      organization_id: null,
      created_at: expect.any(String),
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
      key,
    });

    // It authenticates, with its scopes and no more.
    expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
    expectJsonError(await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] }, key), 403, 'insufficient_scope');

    const secret = key.slice(prefix.length);
    const list = await api('GET', '/api-keys?limit=100');
    const listed = list.body.api_keys.find((k: { id: string }) => k.id === id);
    expect(listed).toMatchObject({ id, name: 'reader', prefix, scopes: ['idp:read'], organization_id: null, created_at: r.body.created_at, revoked_at: null });
    expect(Object.keys(listed)).not.toContain('key');
    const one = await api('GET', `/api-keys/${id}`);
    expect(Object.keys(one.body)).not.toContain('key');
    for (const text of [list.text, one.text]) expect(text).not.toContain(secret);

    const [created] = await auditRows('admin.apikey.created', prefix);
    expect(created).toMatchObject({ actor: expect.stringMatching(/^apikey:boot_/), data: { id, name: 'reader', scopes: ['idp:read'], expires_at: null } });
    expect(JSON.stringify(created)).not.toContain(secret);
    const row = await idp.container.db.selectFrom('apiKeys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(logs).toContain(prefix); // the logs do hold the calls made with it...
    expect(logs).not.toContain(secret); // ...but never its secret
  });

  test('last_used_at is recorded, at most once a minute per key', async () => {
    const { id, key } = await createKey({ name: 'used', scopes: ['idp:read'] });
    expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
    let first: string | null = null;
    for (let i = 0; i < 50 && !first; i++) {
      first = (await api('GET', `/api-keys/${id}`)).body.last_used_at;
      if (!first) await sleep(20);
    }
    expect(first).not.toBeNull();
    expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
    expect((await onPeer('GET', '/keys', undefined, key)).status).toBe(200);
    await sleep(100);
    expect((await api('GET', `/api-keys/${id}`)).body.last_used_at).toBe(first);
  });

  test('a failed last-use write neither fails the request nor goes unheard: it is logged', async () => {
    const { id, key } = await createKey({ name: 'untouchable', scopes: ['idp:read'] });
    // The database itself refuses the write (a trigger), as it would when failing over.
    await sql`create function refuse_touch() returns trigger language plpgsql as $$ begin raise exception 'touch refused'; end $$`.execute(idp.container.db);
    await sql`create trigger refuse_touch before update on api_keys for each row when (new.id = ${sql.lit(id)}) execute function refuse_touch()`.execute(
      idp.container.db,
    );
    try {
      expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
      for (let i = 0; i < 50 && !logs.includes('touch refused'); i++) await sleep(20);
      expect(logs).toMatch(/recording an API key's last use failed.*touch refused|touch refused.*recording an API key's last use failed/);
    } finally {
      await sql`drop trigger refuse_touch on api_keys`.execute(idp.container.db);
      await sql`drop function refuse_touch()`.execute(idp.container.db);
    }
    // This node tries again on the next use, rather than waiting out the minute.
    expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
    let used: string | null = null;
    for (let i = 0; i < 50 && !used; i++) {
      used = (await api('GET', `/api-keys/${id}`)).body.last_used_at;
      if (!used) await sleep(20);
    }
    expect(used).not.toBeNull();
  });

  test('a revoked key → 401 on the other node at once; revocation is audited once and shown', async () => {
    const { id, key, prefix } = await createKey({ name: 'to-revoke', scopes: ['idp:read'] });
    expect((await onPeer('GET', '/keys', undefined, key)).status).toBe(200);
    expect((await api('DELETE', `/api-keys/${id}`)).status).toBe(204);
    const revokedAt = Date.now();
    const onOther = await onPeer('GET', '/keys', undefined, key);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expectJsonError(onOther, 401, 'invalid_token');
    expectJsonError(await api('GET', '/keys', undefined, key), 401, 'invalid_token');

    expect((await api('GET', `/api-keys/${id}`)).body.revoked_at).toEqual(expect.any(String));
    expect((await api('DELETE', `/api-keys/${id}`)).status).toBe(204);
    expect(await auditRows('admin.apikey.revoked', prefix)).toHaveLength(1);
  });

  test('an expired key → 401; an expiry in the past is refused', async () => {
    const expiresAt = Date.now() + 1200;
    const { key } = await createKey({ name: 'short-lived', scopes: ['idp:read'], expires_at: new Date(expiresAt).toISOString() });
    expect((await api('GET', '/keys', undefined, key)).status).toBe(200);
    await sleep(expiresAt - Date.now() + 50);
    expectJsonError(await api('GET', '/keys', undefined, key), 401, 'invalid_token');
    expectJsonError(await onPeer('GET', '/keys', undefined, key), 401, 'invalid_token');
    expectJsonError(
      await api('POST', '/api-keys', { name: 'past', scopes: ['idp:read'], expires_at: '2020-01-01T00:00:00Z' }),
      400,
      'invalid_request',
      'expires_at',
    );
  });

  test.each([
    ['unknown field (the secret)', { name: 'x', scopes: ['idp:read'], key: 'idp_chosen' }, 'key'],
    ['unknown field (the hash)', { name: 'x', scopes: ['idp:read'], secret_hash: 'aa' }, 'secret_hash'],
    ['unknown field (revoked_at)', { name: 'x', scopes: ['idp:read'], revoked_at: null }, 'revoked_at'],
    ['unknown scope', { name: 'x', scopes: ['root'] }, 'scopes.0'],
    ['no scope', { name: 'x', scopes: [] }, 'scopes'],
    ['repeated scope', { name: 'x', scopes: ['idp:read', 'idp:read'] }, 'scopes'],
    ['no name', { scopes: ['idp:read'] }, 'name'],
    ['unknown organization', { name: 'x', scopes: ['idp:read'], organization_id: '00000000-0000-4000-8000-000000000000' }, 'organization_id'],
    ['not a date', { name: 'x', scopes: ['idp:read'], expires_at: 'tomorrow' }, 'expires_at'],
  ])('%s → 400 naming the field, nothing created', async (_label, body, field) => {
    const before = await idp.container.db.selectFrom('apiKeys').select('id').execute();
    expectJsonError(await api('POST', '/api-keys', body), 400, 'invalid_request', `${field}:`);
    expect(await idp.container.db.selectFrom('apiKeys').select('id').execute()).toHaveLength(before.length);
  });

  test('a revoked bootstrap key stays revoked when a node starts again', async () => {
    const bootstrap = 'another-operator-bootstrap-key-0123456789';
    await idp.container.apiKeys.ensureBootstrap(bootstrap);
    const row = await idp.container.apiKeys.authenticate(bootstrap);
    expect((await api('DELETE', `/api-keys/${row!.id}`)).status).toBe(204);
    await expect(idp.container.apiKeys.ensureBootstrap(bootstrap)).resolves.toBeUndefined();
    expect(await idp.container.apiKeys.authenticate(bootstrap)).toBeUndefined();
    expectJsonError(await api('GET', '/keys', undefined, bootstrap), 401, 'invalid_token');
  });

  test('unknown or malformed ids → 404 / 400', async () => {
    expectJsonError(await api('GET', '/api-keys/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectJsonError(await api('DELETE', '/api-keys/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectJsonError(await api('GET', '/api-keys/nope'), 400, 'invalid_request', 'id');
  });
});

describe('no escalation', () => {
  test('a key without admin manages no keys (403), whatever else it holds; nothing is created', async () => {
    const { key } = await createKey({ name: 'all-but-admin', scopes: ['idp:read', 'idp:write', 'idp:mfa:write', 'sentinel:write'] });
    for (const scopes of [['admin'], ['idp:read']]) {
      expectJsonError(await api('POST', '/api-keys', { name: 'escalated', scopes }, key), 403, 'insufficient_scope');
    }
    expectJsonError(await api('GET', '/api-keys', undefined, key), 403, 'insufficient_scope');
    expect(await idp.container.db.selectFrom('apiKeys').select('id').where('name', '=', 'escalated').execute()).toEqual([]);
  });

  test('no key grants a scope it lacks', async () => {
    const granter = { actor: 'test', organizationId: null, keyId: null, scopes: ['idp:read'] };
    await expect(idp.container.apiKeyAdmin.create({ name: 'escalated', scopes: ['idp:write'] }, granter)).rejects.toMatchObject({
      error: 'insufficient_scope',
    });
    await expect(idp.container.apiKeyAdmin.create({ name: 'fine', scopes: ['idp:read'] }, granter)).resolves.toMatchObject({ scopes: ['idp:read'] });
  });

  test("an organisation's key creates keys for its organisation only", async () => {
    for (const organization_id of [orgs.globex, null]) {
      expectJsonError(await api('POST', '/api-keys', { name: 'elsewhere', scopes: ['idp:read'], organization_id }, orgKeys.acme), 403, 'insufficient_scope');
    }
    expect(await idp.container.db.selectFrom('apiKeys').select('id').where('name', '=', 'elsewhere').execute()).toEqual([]);
    const own = await createKey({ name: 'acme-reader', scopes: ['idp:read'] }, orgKeys.acme);
    expect(own.organization_id).toBe(orgs.acme);
    const explicit = await createKey({ name: 'acme-admin-2', scopes: ['admin'], organization_id: orgs.acme }, orgKeys.acme);
    // What it made is bound as it is: it cannot reach the global settings either.
    expectJsonError(await api('GET', '/settings', undefined, explicit.key), 403, 'insufficient_scope');
  });

  test('a key cannot change its own scopes (403); it may rename itself, and change other keys within its own reach', async () => {
    const self = await createKey({ name: 'self', scopes: ['admin'], organization_id: orgs.acme });
    const { body: me } = await api('GET', '/api-keys?limit=100', undefined, self.key);
    expect(me.api_keys.map((k: { id: string }) => k.id)).toContain(self.id);
    expectJsonError(await api('PATCH', `/api-keys/${self.id}`, { scopes: ['admin', 'sentinel:write'] }, self.key), 403, 'insufficient_scope');
    expectJsonError(await api('PATCH', `/api-keys/${self.id}`, { scopes: ['idp:read'] }, self.key), 403, 'insufficient_scope');
    expect((await api('GET', `/api-keys/${self.id}`)).body.scopes).toEqual(['admin']);
    expect((await api('PATCH', `/api-keys/${self.id}`, { name: 'renamed' }, self.key)).body.name).toBe('renamed');
    expectJsonError(await api('PATCH', `/api-keys/${self.id}`, { organization_id: orgs.globex }, self.key), 400, 'invalid_request', 'organization_id');

    const other = await createKey({ name: 'other', scopes: ['idp:read'] }, self.key);
    const changed = await api('PATCH', `/api-keys/${other.id}`, { scopes: ['idp:read', 'idp:write'] }, self.key);
    expect(changed.body.scopes).toEqual(['idp:read', 'idp:write']);
    expect((await auditRows('admin.apikey.updated', other.prefix))[0]?.data).toMatchObject({
      scopes: ['idp:read', 'idp:write'],
      previous_scopes: ['idp:read'],
    });
  });
});

describe("another organisation's objects answer as absent ones do", () => {
  const ABSENT = '00000000-0000-4000-8000-000000000000';
  const spMetadata = (entityId: string) => `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false" WantAssertionsSigned="false">
    <md:AssertionConsumerService index="0" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.globex.example/acs"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`;

  test('users, clients, SAML SPs, organisations and their settings, API keys: 404 with the same answer as for nothing at all', async () => {
    const g = orgKeys.globex;
    expect((await api('POST', '/users', { user: { external_id: 'globex-only' } }, g)).status).toBe(201);
    const client = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] }, g);
    const sp = await api('POST', '/saml/service-providers', { metadata: spMetadata('https://sp.globex.example') }, g);
    const key = await createKey({ name: 'globex-reader', scopes: ['idp:read'] }, g);
    expect([client.status, sp.status]).toEqual([201, 201]);

    const pairs: [string, string, string, unknown?][] = [
      ['GET', '/users/profile?externalUserId=globex-only', '/users/profile?externalUserId=nobody'],
      ['GET', `/clients/${client.body.client_id}`, '/clients/no-such-client'],
      ['PATCH', `/clients/${client.body.client_id}`, '/clients/no-such-client', { client_name: 'x' }],
      ['DELETE', `/clients/${client.body.client_id}`, '/clients/no-such-client'],
      ['GET', `/saml/service-providers/${sp.body.id}`, `/saml/service-providers/${ABSENT}`],
      ['PATCH', `/saml/service-providers/${sp.body.id}`, `/saml/service-providers/${ABSENT}`, { name_id_format: 'email' }],
      ['DELETE', `/saml/service-providers/${sp.body.id}`, `/saml/service-providers/${ABSENT}`],
      ['GET', '/organizations/globex', '/organizations/no-such-org'],
      ['GET', '/organizations/globex/settings', '/organizations/no-such-org/settings'],
      ['PATCH', '/organizations/globex/settings', '/organizations/no-such-org/settings', { lockout: { max_failures: 1 } }],
      ['GET', `/api-keys/${key.id}`, `/api-keys/${ABSENT}`],
      ['PATCH', `/api-keys/${key.id}`, `/api-keys/${ABSENT}`, { scopes: ['admin'] }],
      ['DELETE', `/api-keys/${key.id}`, `/api-keys/${ABSENT}`],
    ];
    for (const [method, foreign, absent, body] of pairs) {
      const a: ApiResponse = await api(method, foreign, body, orgKeys.acme);
      const b: ApiResponse = await api(method, absent, body, orgKeys.acme);
      expectJsonError(a, 404, 'not_found');
      expect([method, foreign, a.body]).toEqual([method, foreign, b.body]);
    }
    // Nothing changed, and the lists leave them out.
    expect((await api('GET', `/clients/${client.body.client_id}`, undefined, g)).status).toBe(200);
    expect((await api('GET', `/saml/service-providers/${sp.body.id}`, undefined, g)).body.name_id_format).toBe('persistent');
    expect((await api('GET', `/api-keys/${key.id}`, undefined, g)).body).toMatchObject({ scopes: ['idp:read'], revoked_at: null });
    expect((await api('GET', '/api-keys/' + key.id, undefined, g)).status).toBe(200);
    const acmeList = (await api('GET', '/api-keys?limit=100', undefined, orgKeys.acme)).body.api_keys as { organization_id: string }[];
    expect(acmeList.length).toBeGreaterThan(0);
    expect(acmeList.every((k) => k.organization_id === orgs.acme)).toBe(true);
    // The operator's key, bound to no organisation, is out of an organisation's reach as well.
    const boot = await idp.container.db.selectFrom('apiKeys').select('id').where('name', '=', 'bootstrap').executeTakeFirstOrThrow();
    expectJsonError(await api('DELETE', `/api-keys/${boot.id}`, undefined, orgKeys.acme), 404, 'not_found');
  });
});

describe('signing keys', () => {
  const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'private_key', 'privateSealed', 'private_sealed'];
  type Listed = { kind: string; kid: string; state: string; retires_at: string | null; certificate?: string };
  const listKeys = async (key = ADMIN_KEY) => (await api('GET', '/keys', undefined, key)).body.keys as Listed[];
  const jwksKids = async () => ((await (await fetch(`${idp.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const metadata = async () => (await (await fetch(`${idp.url}/saml/metadata`)).text()).replace(/\s+/g, '');
  const pemBody = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');

  test('GET /keys: the OIDC keys and SAML certificates, one current each, never a private part (idp:read suffices)', async () => {
    const { key } = await createKey({ name: 'keys-reader', scopes: ['idp:read'] });
    const r = await api('GET', '/keys', undefined, key);
    expect(r.status).toBe(200);
    for (const kind of ['oidc', 'saml']) {
      const ofKind = r.body.keys.filter((k: Listed) => k.kind === kind);
      expect(ofKind.filter((k: Listed) => k.state === 'current')).toHaveLength(1);
      for (const k of ofKind)
        expect(k).toMatchObject({
          kid: expect.any(String),
          alg: 'RS256',
          use: 'sig',
          state: expect.stringMatching(/^(current|retiring)$/),
          created_at: expect.any(String),
        });
    }
    for (const m of PRIVATE) expect(r.text).not.toContain(`"${m}"`);
    expect(r.text).not.toContain('PRIVATE KEY');
    expect(await jwksKids()).toEqual(expect.arrayContaining(r.body.keys.filter((k: Listed) => k.kind === 'oidc').map((k: Listed) => k.kid)));
    const saml = r.body.keys.find((k: Listed) => k.kind === 'saml' && k.state === 'current');
    expect(await metadata()).toContain(pemBody(saml.certificate));
  });

  test('rotating the OIDC key: the new kid is in /jwks at once, the old one retiring; audited', async () => {
    const before = (await listKeys()).find((k) => k.kind === 'oidc' && k.state === 'current')!;
    const r = await api('POST', '/keys/rotate', { kind: 'oidc' });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatchObject({ kind: 'oidc', state: 'current', retires_at: null });
    const kid = r.body.key.kid as string;
    expect(await jwksKids()).toEqual(expect.arrayContaining([kid, before.kid]));
    const after = await listKeys();
    expect(after.find((k) => k.kid === before.kid)).toMatchObject({ state: 'retiring', retires_at: expect.any(String) });
    // The other node reads the same keys, and serves the new one from its next reload.
    expect((await onPeer('GET', '/keys')).body.keys).toEqual(after);
    expect((await auditRows('admin.keys.rotated', kid))[0]).toMatchObject({ actor: expect.stringMatching(/^apikey:/), outcome: 'success' });
  });

  test('rotating the SAML key: the metadata gains the new certificate and keeps the old one for the overlap; audited', async () => {
    const before = (await listKeys()).find((k) => k.kind === 'saml' && k.state === 'current')!;
    const r = await api('POST', '/keys/rotate', { kind: 'saml', overlap_days: 2 });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatchObject({ kind: 'saml', state: 'current', certificate: expect.stringContaining('BEGIN CERTIFICATE') });
    const md = await metadata();
    expect(md).toContain(pemBody(r.body.key.certificate));
    expect(md).toContain(pemBody(before.certificate!));
    const retiring = (await listKeys()).find((k) => k.kid === before.kid)!;
    expect(Date.parse(retiring.retires_at!) - Date.now()).toBeGreaterThan(2 * 86400_000 - 60_000);
    expect((await auditRows('admin.saml_keys.rotated', r.body.key.kid))[0]?.data).toEqual({ overlap_days: 2 });
  });

  test('rotation needs admin and a key that reaches every organisation; bad bodies → 400; nothing rotates', async () => {
    const { key } = await createKey({ name: 'writer', scopes: ['idp:read', 'idp:write'] });
    const before = await listKeys();
    expectJsonError(await api('POST', '/keys/rotate', {}, key), 403, 'insufficient_scope');
    expectJsonError(await api('POST', '/keys/rotate', {}, orgKeys.acme), 403, 'insufficient_scope');
    expectJsonError(await api('POST', '/keys/rotate', { kind: 'cookie' }), 400, 'invalid_request', 'kind');
    expectJsonError(await api('POST', '/keys/rotate', { kind: 'saml', overlap_days: -1 }), 400, 'invalid_request', 'overlap_days');
    expectJsonError(await api('POST', '/keys/rotate', { kind: 'oidc', private_key: 'x' }), 400, 'invalid_request', 'private_key');
    expect(await listKeys()).toEqual(before);
  });
});
