/**
 * Ending a session on one IdP node holds on the other at once: both share one PostgreSQL schema and
 * one Redis prefix behind one issuer, and nothing about sessions is cached in a node's memory.
 */
import { apiClient } from '../helpers/api.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';
import { authorize, createUser, discover, oc, passwordSteps, refreshWorks, registerClient } from '../helpers/rp.js';

let a: TestIdp;
let b: TestIdp;
let configA: oc.Configuration;
const apiB = apiClient(() => b.url);

beforeAll(async () => {
  a = await startTestIdp('sess-scale-a');
  b = await startTestIdp('sess-scale-b', 'postgres+redis', { databaseSchema: a.name, redisKeyPrefix: `${a.name}:`, issuer: a.url });
  const client = await registerClient(a.url, { first_party: true });
  configA = await discover(a.url, client.client_id, client.client_secret);
}, 30_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  if (a) await deleteKeysWithPrefix(`${a.name}:`);
});

const meAt = async (node: TestIdp, browser: Browser) => (await browser.json(`${node.url}/api/v1/me`)).status;

/** Polls until `check` holds; returns how long it took (ms), or Infinity after `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
}

test('a session an administrator ends on node B is refused by node A within a second (cookie and refresh token)', async () => {
  const user = await createUser(a.url, { external_id: 'scale-1', username: 'scale-one', password: 'scale one password' });
  const browser = new Browser();
  const { tokens } = await authorize(configA, { browser, params: { prompt: 'consent' }, onStep: passwordSteps('scale-one', 'scale one password') });
  // The browser's cookie is for the issuer's host, so it reaches both nodes.
  expect([await meAt(a, browser), await meAt(b, browser)]).toEqual([200, 200]);
  const listed = await apiB('GET', `/users/${user.id}/sessions`);
  expect(listed.body.sessions).toHaveLength(1);

  expect((await apiB('DELETE', `/users/${user.id}/sessions/${listed.body.sessions[0].id}`)).status).toBe(204);
  const took = await within(1000, async () => (await meAt(a, browser)) === 401);
  expect(took).toBeLessThan(1000);
  expect(await refreshWorks(configA, tokens.refresh_token!)).toBe(false);
});

test('a user ending their other session on node A signs it out on node B within a second', async () => {
  await createUser(a.url, { external_id: 'scale-2', username: 'scale-two', password: 'scale two password' });
  const here = new Browser();
  const there = new Browser();
  for (const browser of [here, there]) await authorize(configA, { browser, onStep: passwordSteps('scale-two', 'scale two password') });
  const sessions = (await here.json(`${a.url}/api/v1/me/sessions`)).body.sessions as { id: string; current: boolean }[];
  const other = sessions.find((s) => !s.current)!;
  expect(await meAt(b, there)).toBe(200);

  expect((await here.json(`${a.url}/api/v1/me/sessions/${other.id}`, undefined, 'DELETE', { 'content-type': 'application/json' })).status).toBe(204);
  expect(await within(1000, async () => (await meAt(b, there)) === 401)).toBeLessThan(1000);
  expect(await meAt(b, here)).toBe(200);
});
