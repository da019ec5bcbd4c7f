/**
 * Control characters (the NUL byte above all, which PostgreSQL refuses in text and jsonb) are
 * refused where they enter: our request schemas, path and query parameters, and the provider's own
 * inputs. Each answer is the normal 4xx with a JSON error where we speak JSON, never a 500, and
 * nothing is stored.
 */
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type Mode, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { REDIRECT_URI, createUser, registerClient } from '../helpers/rp.js';
import { toErrorResponse } from '../../src/http/middleware/error-handler.js';
import { asProviderError } from '../../src/oidc/unavailable.js';

const PASSWORD = 'correct horse battery staple';
const NUL = '\u0000';

let idp: TestIdp;
let client: { client_id: string; client_secret: string };

beforeAll(async () => {
  idp = await startTestIdp('hostile-input', 'postgres', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  client = await registerClient(idp.url, { first_party: true });
  await createUser(idp.url, { external_id: 'hostile-alice', username: 'alice', email: 'alice@example.test', password: PASSWORD });
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(() => idp.url);
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const count = async (table: 'users' | 'clients') =>
  Number(
    (
      await idp.container.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** An authorization request whose client_id is only a NUL byte, as the attacker sent it. */
async function authWithNulClient(baseUrl: string) {
  const url =
    `${baseUrl}/auth?client_id=%00&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}` +
    '&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, text: await res.text(), location: res.headers.get('location') };
}

describe("the provider's own inputs", () => {
  test("/auth?client_id=%00 → the provider's invalid_client page, no redirect", async () => {
    const r = await authWithNulClient(idp.url);
    expect(r.status).toBe(400);
    expect(r.location).toBeNull();
    expect(r.text).toContain('invalid_client');
  });

  test.each(['pglite', 'postgres+redis'] as Mode[])('/auth?client_id=%%00 on %s → invalid_client, never a 500', async (mode) => {
    const other = await startTestIdp('hostile-auth', mode);
    try {
      const r = await authWithNulClient(other.url);
      expect(r.status).toBe(400);
      expect(r.text).toContain('invalid_client');
      // The embedded database refuses a NUL the same way, and that refusal is a 400 too.
      const refused = await other.container.accounts.findByLogin(NUL).catch((e: unknown) => e);
      expect(toErrorResponse(refused).status).toBe(400);
    } finally {
      await other.stop();
    }
  });

  test.each([
    ['refresh_token=%00', { grant_type: 'refresh_token', refresh_token: NUL }],
    ['refresh_token=abc%00def', { grant_type: 'refresh_token', refresh_token: `abc${NUL}def` }],
    ['code=%00', { grant_type: 'authorization_code', code: NUL, redirect_uri: REDIRECT_URI, code_verifier: 'x'.repeat(43) }],
  ])('/token with %s → a 400 OIDC JSON error', async (_label, params) => {
    const res = await fetch(`${idp.url}/token`, {
      method: 'POST',
      headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ error: expect.stringMatching(/^invalid_(grant|request)$/), error_description: expect.any(String) });
  });

  test('/token with client_id=%00 (client_secret_post) → 401 invalid_client', async () => {
    const res = await fetch(`${idp.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: NUL, client_secret: 'x'.repeat(40) }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_client');
  });

  test.each([
    ['introspection', '/token/introspection'],
    ['revocation', '/token/revocation'],
  ])('%s of a token with a NUL → a 200 that reveals nothing or a 400, never a 500', async (_label, path) => {
    const res = await fetch(`${idp.url}${path}`, {
      method: 'POST',
      headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: `x${NUL}y` }),
    });
    expect([200, 400]).toContain(res.status);
    if (path.endsWith('introspection') && res.status === 200) expect(await res.json()).toEqual({ active: false });
  });

  test("/auth with a pushed request_uri holding a NUL → the provider's error back to the client, never a 500", async () => {
    const url = `${idp.url}/auth?client_id=${client.client_id}&request_uri=${encodeURIComponent(`urn:ietf:params:oauth:request_uri:x${NUL}`)}`;
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toMatch(/^invalid_request(_uri)?$/);
  });
});

describe('the login step', () => {
  async function interaction() {
    const browser = new Browser();
    const auth =
      `${idp.url}/auth?client_id=${client.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}` +
      '&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';
    const res = await browser.fetch(auth);
    expect(res.status).toBe(303);
    return { browser, url: new URL(res.headers.get('location')!, idp.url) };
  }

  test.each([
    ['a NUL username', { username: NUL, password: PASSWORD }, 'username'],
    ['a username with a NUL inside', { username: `alice${NUL}`, password: PASSWORD }, 'username'],
    ['a NUL password', { username: 'alice', password: `${PASSWORD}${NUL}` }, 'password'],
    ['an escape character', { username: 'ali\u001bce', password: PASSWORD }, 'username'],
  ])('%s → 400 naming the field; nobody is signed in', async (_label, input, field) => {
    const { browser, url } = await interaction();
    const r = await browser.json(`${url.href}/login`, input);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(new RegExp(`^${field}`)) });
    const still = await browser.json(url);
    expect(still.status).toBe(200);
    expect(still.body.step).toBe('login');
    // The same interaction still accepts the real password: the refusal is not a lockout either.
    const ok = await browser.json(`${url.href}/login`, { username: 'alice', password: PASSWORD });
    expect(ok.status).toBe(200);
    expect((await idp.container.accounts.findByExternalId('hostile-alice'))?.failedAttempts).toBe(0);
  });
});

describe('the admin and platform API', () => {
  test('/users/profile?externalUserId=%00 → 400 JSON naming the parameter', async () => {
    expectJsonError(await api('GET', '/users/profile?externalUserId=%00'), 400, 'invalid_request', 'externalUserId');
    expectJsonError(await api('GET', '/users/profile?externalUserId=a%00b'), 400, 'invalid_request', 'externalUserId');
  });

  test.each(['GET', 'PATCH', 'DELETE'])('%s /clients/%%00 → 400 JSON', async (method) => {
    expectJsonError(await api(method, '/clients/%00', method === 'PATCH' ? { client_name: 'x' } : undefined), 400, 'invalid_request', 'clientId');
  });

  test.each([
    ['POST', '/users/otp?externalUserId=%00', { otp: { issuer_name: 'Acme', account_name: 'a@example.test' } }, 'externalUserId'],
    ['POST', '/users/backup-codes?externalUserId=%00', undefined, 'externalUserId'],
    ['POST', '/users/unlock?externalUserId=%00', undefined, 'externalUserId'],
    ['GET', '/users/devices?externalUserId=%00', undefined, 'externalUserId'],
    ['POST', '/otp/verify', { otp: { id: NUL, code: '123456' } }, 'otp.id'],
    ['POST', '/users/otp?externalUserId=hostile-alice', { otp: { issuer_name: `Acme${NUL}`, account_name: 'a@example.test' } }, 'otp.issuer_name'],
    ['GET', '/organizations/%00', undefined, undefined],
  ])('%s %s → a 4xx JSON error', async (method, path, body, field) => {
    const r = await api(method, path, body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectJsonError(r, r.status, undefined, field);
  });

  test.each([
    ['external_id', { external_id: `x${NUL}y` }],
    ['external_id', { external_id: NUL }],
    ['username', { external_id: 'hostile-u1', username: `bob${NUL}` }],
    ['email', { external_id: 'hostile-u2', email: `bob${NUL}@example.test` }],
    ['password', { external_id: 'hostile-u3', password: `${PASSWORD}${NUL}` }],
    ['organization', { external_id: 'hostile-u4', organization: NUL }],
  ])('creating a user with a NUL in %s → 400 naming it; nothing stored', async (field, user) => {
    const before = await count('users');
    expectJsonError(await api('POST', '/users', { user }), 400, 'invalid_request', `user.${field}`);
    expect(await count('users')).toBe(before);
  });

  test.each([
    ['client_name', { client_name: `App${NUL}`, redirect_uris: [REDIRECT_URI] }],
    ['client_name', { client_name: 'Bell\u0007', redirect_uris: [REDIRECT_URI] }],
    ['client_id', { client_id: `app${NUL}`, redirect_uris: [REDIRECT_URI] }],
    ['redirect_uris', { redirect_uris: [`${REDIRECT_URI}${NUL}`] }],
    ['client_secret', { client_secret: `${'s'.repeat(40)}${NUL}`, redirect_uris: [REDIRECT_URI] }],
  ])('creating a client with a control character in %s → 400 naming it; nothing stored', async (field, body) => {
    const before = await count('clients');
    expectJsonError(await api('POST', '/clients', body), 400, 'invalid_request', field);
    expect(await count('clients')).toBe(before);
  });

  test('a PATCH of a client with a NUL in client_name → 400 and the client is unchanged', async () => {
    const created = await api('POST', '/clients', { client_name: 'Plain', redirect_uris: [REDIRECT_URI] });
    expect(created.status).toBe(201);
    expectJsonError(await api('PATCH', `/clients/${created.body.client_id}`, { client_name: `x${NUL}` }), 400, 'invalid_request', 'client_name');
    expect((await api('GET', `/clients/${created.body.client_id}`)).body.client_name).toBe('Plain');
  });
});

describe("the database's own refusal is a 400 as a last line", () => {
  test("text (22021) and jsonb (22P05) errors from PostgreSQL map to 400 in our answers and in the provider's", async () => {
    const text = await idp.container.accounts.findByLogin(NUL).catch((e: unknown) => e);
    expect((text as { code?: string }).code).toBe('22021');
    const json = await idp.container.settings
      .patchGlobal({})
      .then(() =>
        idp.container.db
          .insertInto('settings')
          .values({ scope: 'hostile', data: JSON.stringify({ x: NUL }) })
          .execute(),
      )
      .catch((e: unknown) => e);
    expect((json as { code?: string }).code).toBe('22P05');
    for (const err of [text, json]) {
      expect(toErrorResponse(err)).toEqual({ status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } });
      expect(asProviderError(err)).toMatchObject({ status: 400, error: 'invalid_request', expose: true });
    }
  });
});
