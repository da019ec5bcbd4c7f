import { conditionalGet } from '../helpers/conditional-get.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startTestIdp('well-known');
});
afterAll(async () => {
  await idp.stop();
});

test.each(['/.well-known/openid-configuration', '/jwks'])('%s is served with an ETag and revalidates with 304', async (path) => {
  const first = await fetch(`${idp.url}${path}`);
  expect(first.status).toBe(200);
  const etag = first.headers.get('etag');
  expect(etag).toMatch(/^".+"$/);
  const body = await first.json();
  const again = await fetch(`${idp.url}${path}`);
  expect(await again.json()).toEqual(body);
  expect(await conditionalGet(`${idp.url}${path}`, etag!)).toBe(304);
});

test('a key rotation changes the JWKS bytes and their ETag at once on reload', async () => {
  const before = await fetch(`${idp.url}/jwks`);
  const etag = before.headers.get('etag');
  await idp.container.keyStore.rotate(3600);
  expect(await idp.container.providers.reload()).toBe(true);
  const after = await fetch(`${idp.url}/jwks`, { headers: { 'if-none-match': etag! } });
  expect(after.status).toBe(200);
  const { keys } = (await after.json()) as { keys: { kid: string; d?: string }[] };
  expect(keys).toHaveLength(2);
  expect(keys.every((k) => k.d === undefined)).toBe(true);
});
