/**
 * A machine-to-machine client (client_credentials only) has no redirect URIs: an empty list means
 * the same as none. A client that signs users in still needs at least one.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { REDIRECT_URI } from '../helpers/rp.js';

let idp: TestIdp;

beforeAll(async () => {
  idp = await startTestIdp('client-redirect-uris');
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(() => idp.url);
const M2M = { grant_types: ['client_credentials'], response_types: [] };

async function clientCredentials(clientId: string, secret: string) {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api' }),
  });
  return res.status;
}

test.each([
  ['redirect_uris omitted', {}],
  ['redirect_uris: []', { redirect_uris: [] }],
])('a client_credentials-only client with %s is created and gets tokens', async (_label, extra) => {
  const r = await api('POST', '/clients', { ...M2M, ...extra });
  expect(r.status).toBe(201);
  expect(r.body.grant_types).toEqual(['client_credentials']);
  expect(await clientCredentials(r.body.client_id, r.body.client_secret)).toBe(200);
});

test.each([
  ['the default grants', { redirect_uris: [] }],
  ['authorization_code', { redirect_uris: [], grant_types: ['authorization_code'] }],
  ['authorization_code beside client_credentials', { redirect_uris: [], grant_types: ['authorization_code', 'client_credentials'] }],
])('a code-flow client (%s) with redirect_uris: [] → 400 naming redirect_uris; nothing stored', async (_label, body) => {
  const before = (await api('GET', '/clients?limit=100')).body.clients.length;
  expectJsonError(await api('POST', '/clients', body), 400, undefined, 'redirect_uris');
  expect((await api('GET', '/clients?limit=100')).body.clients.length).toBe(before);
});

test("emptying a code-flow client's redirect_uris → 400 naming redirect_uris; the client is unchanged", async () => {
  const created = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI] });
  expectJsonError(await api('PATCH', `/clients/${created.body.client_id}`, { redirect_uris: [] }), 400, undefined, 'redirect_uris');
  expect((await api('GET', `/clients/${created.body.client_id}`)).body.redirect_uris).toEqual([REDIRECT_URI]);
});

test('a client_credentials-only client may empty its redirect_uris', async () => {
  const created = await api('POST', '/clients', { ...M2M, redirect_uris: [] });
  const r = await api('PATCH', `/clients/${created.body.client_id}`, { redirect_uris: [] });
  expect(r.status).toBe(200);
  expect(await clientCredentials(created.body.client_id, created.body.client_secret)).toBe(200);
});
