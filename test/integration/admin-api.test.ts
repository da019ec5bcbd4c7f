/**
 * Admin REST API: API-key authentication
 * and scopes, client CRUD with secrets shown once, user provisioning, profile, and bad input.
 */
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { REDIRECT_URI, authorize, discover, oc, passwordSteps } from '../helpers/rp.js';

let idp: TestIdp;
let readKey: string;
let writeKey: string;

beforeAll(async () => {
  idp = await startTestIdp('admin-api');
  readKey = (await idp.container.apiKeys.create('reader', ['idp:read'])).key;
  writeKey = (await idp.container.apiKeys.create('writer', ['idp:read', 'idp:write'])).key;
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(() => idp.url);

const expectError = expectJsonError;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function clientCredentials(clientId: string, secret: string) {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('authentication and scopes', () => {
  test('no key → 401 JSON with WWW-Authenticate', async () => {
    for (const [method, path] of [
      ['GET', '/clients'],
      ['POST', '/clients'],
      ['POST', '/users'],
      ['GET', '/users/profile?externalUserId=x'],
    ] as const) {
      const r = await api(method, path, method === 'POST' ? {} : undefined, null);
      expectError(r, 401, 'invalid_token');
      expect(r.res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  test('wrong, malformed or revoked key → 401', async () => {
    expectError(await api('GET', '/clients', undefined, 'idp_AAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 401);
    expectError(await api('GET', '/clients', undefined, `${ADMIN_KEY}x`), 401);
    expectError(await api('GET', '/clients', undefined, 'short'), 401);
    expectError(await api('GET', '/clients', undefined, 'x'.repeat(10_000)), 401);
    const basicAuth = await fetch(`${idp.url}/api/v1/clients`, { headers: { authorization: `Basic ${Buffer.from(`a:${ADMIN_KEY}`).toString('base64')}` } });
    expect(basicAuth.status).toBe(401);

    const { key, row } = await idp.container.apiKeys.create('soon-revoked', ['admin']);
    expect((await api('GET', '/clients', undefined, key)).status).toBe(200);
    await idp.container.db.updateTable('apiKeys').set({ revokedAt: new Date() }).where('id', '=', row.id).execute();
    expectError(await api('GET', '/clients', undefined, key), 401);
  });

  test('keys are stored hashed, never in clear', async () => {
    const { key, row } = await idp.container.apiKeys.create('hashed', ['idp:read']);
    expect(row.secretHash).not.toContain(key.slice(13));
    const rows = await idp.container.db.selectFrom('apiKeys').select(['prefix', 'secretHash']).execute();
    for (const r of rows) {
      expect(r.secretHash).not.toBe(key);
      expect(r.secretHash).not.toBe(ADMIN_KEY);
      expect(JSON.stringify(r)).not.toContain(ADMIN_KEY);
    }
  });

  test('an idp:read key → 403 on POST /clients and POST /users; reading works', async () => {
    expectError(await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] }, readKey), 403);
    expectError(await api('POST', '/users', { user: { external_id: 'reader-made' } }, readKey), 403);
    expect((await api('GET', '/users/profile?externalUserId=reader-made', undefined, ADMIN_KEY)).status).toBe(404);
    expect((await api('GET', '/clients', undefined, readKey)).status).toBe(200);
  });

  test('an idp:write key creates users but cannot manage clients (admin only)', async () => {
    expect((await api('POST', '/users', { user: { external_id: 'writer-made' } }, writeKey)).status).toBe(201);
    expectError(await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] }, writeKey), 403);
    const created = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] });
    expectError(await api('PATCH', `/clients/${created.body.client_id}`, { rotate_secret: true }, writeKey), 403);
    expectError(await api('DELETE', `/clients/${created.body.client_id}`, undefined, writeKey), 403);
    expect((await api('GET', `/clients/${created.body.client_id}`, undefined, readKey)).status).toBe(200);
  });
  test('a key records when it was last used, at most once a minute', async () => {
    const { key, row } = await idp.container.apiKeys.create('last-used', ['idp:read']);
    const lastUsed = async () =>
      (await idp.container.db.selectFrom('apiKeys').select('lastUsedAt').where('id', '=', row.id).executeTakeFirstOrThrow()).lastUsedAt;
    expect(await lastUsed()).toBeNull();
    expect((await api('GET', '/clients', undefined, key)).status).toBe(200);
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    expect(Math.abs(first!.getTime() - Date.now())).toBeLessThan(60_000);
    // Used again within the minute: not a write per request.
    await Promise.all(Array.from({ length: 5 }, () => api('GET', '/clients', undefined, key)));
    expect((await lastUsed())!.getTime()).toBe(first!.getTime());
  });
});

describe('clients', () => {
  test('what the pages show of a client: an https logo and a home page; anything else is refused and nothing is stored', async () => {
    const created = await api('POST', '/clients', {
      client_id: 'shown-app',
      redirect_uris: [REDIRECT_URI],
      logo_uri: 'https://cdn.example.com/logo.png',
      client_uri: 'https://app.example.com/',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ logo_uri: 'https://cdn.example.com/logo.png', client_uri: 'https://app.example.com/' });
    for (const [field, value] of [
      ['logo_uri', 'http://cdn.example.com/logo.png'],
      ['logo_uri', 'javascript:alert(1)'],
      ['client_uri', 'data:text/html,hi'],
    ]) {
      const r = await api('PATCH', '/clients/shown-app', { [field!]: value });
      expectError(r, 400, 'invalid_request');
      expect(r.body.error_description).toContain(field);
    }
    expect((await api('GET', '/clients/shown-app')).body).toMatchObject({
      logo_uri: 'https://cdn.example.com/logo.png',
      client_uri: 'https://app.example.com/',
    });
  });

  test('full CRUD: secret shown once, rotation, deletion', async () => {
    const created = await api('POST', '/clients', {
      client_id: 'crud-app',
      client_name: 'CRUD app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      client_id: 'crud-app',
      client_name: 'CRUD app',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const secret1 = created.body.client_secret as string;
    expect(secret1.length).toBeGreaterThanOrEqual(32);

    // Stored sealed, never shown again.
    const row = await idp.container.db.selectFrom('clients').selectAll().where('clientId', '=', 'crud-app').executeTakeFirstOrThrow();
    expect(row.clientSecretSealed).not.toContain(secret1);
    const got = await api('GET', '/clients/crud-app');
    expect(got.status).toBe(200);
    expect(got.body.client_secret).toBeUndefined();
    expect(got.text).not.toContain(secret1);
    const list = await api('GET', '/clients');
    expect(list.status).toBe(200);
    expect(list.body.clients.map((c: { client_id: string }) => c.client_id)).toContain('crud-app');
    expect(list.text).not.toContain(secret1);

    // Duplicate id → 409.
    expectError(await api('POST', '/clients', { client_id: 'crud-app', redirect_uris: [REDIRECT_URI] }), 409);

    expect((await clientCredentials('crud-app', secret1)).status).toBe(200);

    // PATCH without rotation keeps the secret and shows none.
    const renamed = await api('PATCH', '/clients/crud-app', { client_name: 'Renamed' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.client_name).toBe('Renamed');
    expect(renamed.body.client_secret).toBeUndefined();
    expect((await clientCredentials('crud-app', secret1)).status).toBe(200);

    const rotated = await api('PATCH', '/clients/crud-app', { rotate_secret: true });
    expect(rotated.status).toBe(200);
    const secret2 = rotated.body.client_secret as string;
    expect(secret2).toBeTruthy();
    expect(secret2).not.toBe(secret1);
    expect((await clientCredentials('crud-app', secret2)).status).toBe(200);
    const old = await clientCredentials('crud-app', secret1);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');

    const del = await api('DELETE', '/clients/crud-app');
    expect(del.status).toBe(204);
    const after = await clientCredentials('crud-app', secret2);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('invalid_client');
    expectError(await api('GET', '/clients/crud-app'), 404, 'not_found');
    expectError(await api('PATCH', '/clients/crud-app', { client_name: 'x' }), 404, 'not_found');
    expectError(await api('DELETE', '/clients/crud-app'), 404, 'not_found');
  });

  test("deleting a client ends its users' tokens and logins", async () => {
    const created = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI], first_party: true });
    await api('POST', '/users', { user: { external_id: 'del-user', username: 'deluser', password: 'correct horse battery staple' } });
    const config = await discover(idp.url, created.body.client_id, created.body.client_secret);
    const { tokens } = await authorize(config, { scope: 'openid offline_access', onStep: passwordSteps('deluser', 'correct horse battery staple') });
    const me = () => fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.status);
    expect(await me()).toBe(200);

    expect((await api('DELETE', `/clients/${created.body.client_id}`)).status).toBe(204);
    expect(await me()).toBe(401);
    await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toBeDefined();
    const auth = await fetch(
      oc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
      { redirect: 'manual' },
    );
    expect(auth.status).toBe(400);
    expect(auth.headers.get('location')).toBeNull();
  });

  test.each([
    ['bad redirect URI', { redirect_uris: ['not a url'] }, 'redirect_uris'],
    ['redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#frag'] }, 'redirect_uris'],
    ['javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'redirect_uris'],
    ['redirect_uris not an array', { redirect_uris: REDIRECT_URI }, 'redirect_uris'],
    ['no redirect URI for the code grant', { grant_types: ['authorization_code'] }, 'redirect_uris'],
    ['unknown grant type', { redirect_uris: [REDIRECT_URI], grant_types: ['password'] }, 'grant_types'],
    ['implicit grant', { redirect_uris: [REDIRECT_URI], grant_types: ['implicit'] }, 'grant_types'],
    ['token response type', { redirect_uris: [REDIRECT_URI], response_types: ['token'] }, 'response_types'],
    ['unknown auth method', { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'magic' }, 'token_endpoint_auth_method'],
    ['short secret', { redirect_uris: [REDIRECT_URI], client_secret: 'short' }, 'client_secret'],
    ['bad client_id', { redirect_uris: [REDIRECT_URI], client_id: 'has spaces/and slashes' }, 'client_id'],
    ['bad post-logout URI', { redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['nope'] }, 'post_logout_redirect_uris'],
  ])('invalid metadata (%s) → 400 naming the field', async (_label, body, field) => {
    const r = await api('POST', '/clients', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^invalid_(request|client_metadata)$/);
    expect(r.body.error_description).toContain(field);
  });

  test('PATCH with invalid metadata → 400 and the client is unchanged', async () => {
    const created = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] });
    const r = await api('PATCH', `/clients/${created.body.client_id}`, { redirect_uris: ['https://app.example/cb#x'] });
    expect(r.status).toBe(400);
    expect(r.body.error_description).toContain('redirect_uris');
    expect((await api('GET', `/clients/${created.body.client_id}`)).body.redirect_uris).toEqual([REDIRECT_URI]);
  });

  test('paging limits are capped', async () => {
    expectError(await api('GET', '/clients?limit=1000000000'), 400);
    expectError(await api('GET', '/clients?offset=-1'), 400);
    const r = await api('GET', '/clients?limit=1');
    expect(r.status).toBe(200);
    expect(r.body.clients.length).toBeLessThanOrEqual(1);
  });
});

describe('users', () => {
  test('POST /users → 201 {user: {id, external_id, status}}; duplicate external_id → 409', async () => {
    const r = await api('POST', '/users', {
      user: { external_id: 'u-1', username: 'carol', email: 'carol@example.test', password: 'correct horse battery staple' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ user: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), external_id: 'u-1', name: null, locale: null, status: 'active' } });
    expectError(await api('POST', '/users', { user: { external_id: 'u-1', username: 'carol2' } }), 409, 'conflict');
  });

  test.each([['Carol2'], ['CAROL2'], ['ｃａｒｏｌ２']])('username %s after carol2 → 409', async (variant) => {
    if (!(await api('GET', '/users/profile?externalUserId=u-case')).body?.id) {
      expect((await api('POST', '/users', { user: { external_id: 'u-case', username: 'carol2' } })).status).toBe(201);
    }
    expectError(await api('POST', '/users', { user: { external_id: `u-case-${variant}`, username: variant } }), 409, 'conflict');
  });

  test('usernames with invisible or control characters are refused', async () => {
    for (const username of ['car\u200bol', 'car ol', 'carol\n', 'car\u0000ol']) {
      const r = await api('POST', '/users', { user: { external_id: `u-inv-${encodeURIComponent(username)}`, username } });
      expect(r.status).toBe(400);
      expect(r.body.error_description).toContain('username');
    }
  });

  test('mass assignment (password_hash, status, is_admin, failed_attempts, id, ...) is refused, naming the field; no user is created', async () => {
    const known = await (await import('../../src/authn/password.js')).hashPassword('attacker chosen password');
    const fields: Record<string, unknown> = {
      password_hash: known,
      passwordHash: known,
      status: 'locked',
      is_admin: true,
      mfa_enrolled: true,
      acr: 'urn:mace:incommon:iap:silver',
      failed_attempts: 99,
      id: '00000000-0000-0000-0000-000000000001',
      organization_id: '00000000-0000-0000-0000-000000000001',
    };
    for (const [field, value] of Object.entries(fields)) {
      expectError(await api('POST', '/users', { user: { external_id: 'u-mass', username: 'mass', [field]: value } }), 400, 'invalid_request', `user.${field}:`);
    }
    expectError(await api('POST', '/users', { user: { external_id: 'u-mass' }, is_admin: true }), 400, 'invalid_request', 'is_admin:');
    expect(await idp.container.accounts.findByExternalId('u-mass')).toBeUndefined();
  });

  test('GET /users/profile → the documented fields; unknown → 404; missing parameter → 400', async () => {
    await api('POST', '/users', {
      user: { external_id: 'u-prof', username: 'prof', email: 'prof@example.test', phone: '+14155550100', phone_verified: true, roles: ['staff'] },
    });
    const r = await api('GET', '/users/profile?externalUserId=u-prof', undefined, readKey);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: expect.any(String),
      external_id: 'u-prof',
      status: 'active',
      has_otp: false,
      has_passkeys: false,
      is_locked: false,
      failed_attempts: 0,
      username: 'prof',
      email: 'prof@example.test',
      phone: '+14155550100',
      phone_verified: true,
      email_verified: false,
      roles: ['staff'],
      organization: 'default',
    });
    expect(r.text).not.toMatch(/password|hash/i);
    expectError(await api('GET', '/users/profile?externalUserId=nobody'), 404, 'not_found');
    expectError(await api('GET', '/users/profile'), 400);
    expectError(await api('GET', `/users/profile?externalUserId=${'x'.repeat(300)}`), 400);
  });

  test.each([
    ['missing user', {}, 'user'],
    ['missing external_id', { user: {} }, 'external_id'],
    ['external_id as object', { user: { external_id: { $ne: null } } }, 'external_id'],
    ['bad email', { user: { external_id: 'x1', email: 'not-an-email' } }, 'email'],
    ['bad phone', { user: { external_id: 'x2', phone: '12345' } }, 'phone'],
    ['short password', { user: { external_id: 'x3', password: 'short' } }, 'password'],
    ['unknown organization', { user: { external_id: 'x4', organization: 'nope' } }, 'organization'],
    ['roles not a list', { user: { external_id: 'x5', roles: 'admin' } }, 'roles'],
  ])('invalid user (%s) → 400 naming the field', async (_label, body, field) => {
    const r = await api('POST', '/users', body);
    expectError(r, 400);
    expect(r.body.error_description).toContain(field);
  });
});

describe('malformed requests', () => {
  test('malformed JSON → 400, oversized → 413, always JSON errors', async () => {
    expectError(await api('POST', '/users', undefined, ADMIN_KEY, { body: '{"user": {', type: 'application/json' }), 400);
    expectError(await api('POST', '/clients', undefined, ADMIN_KEY, { body: 'not json', type: 'application/json' }), 400);
    const big = JSON.stringify({ user: { external_id: 'big', username: 'x'.repeat(1024 * 1024) } });
    expectError(await api('POST', '/users', undefined, ADMIN_KEY, { body: big, type: 'application/json' }), 413);
    expect((await api('GET', '/users/profile?externalUserId=big')).status).toBe(404);
  });

  test('unknown routes and methods answer JSON errors', async () => {
    expectError(await api('GET', '/nope'), 404, 'not_found');
    const m = await api('PUT', '/clients');
    expectError(m, 405, 'method_not_allowed');
    expect(m.res.headers.get('allow')).toContain('POST');
  });
});
