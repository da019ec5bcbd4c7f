/**
 * Prompt devices through self-service and the admin API: registering a browser (Web Push
 * subscription and a key that proves itself), listing, renaming and removing devices, the VAPID key,
 * the organisation's prompt webhook, and the device page with its service worker.
 */
import { jsonCall, type Browser } from '../helpers/browser.js';
import { apiClient } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { deviceKey } from '../helpers/prompt-device.js';
import { authorize, discover, passwordSteps, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
const api = apiClient(() => idp.url);

beforeAll(async () => {
  idp = await startTestIdp('mfa-prompt-devices', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(() => idp.stop());

const call = (browser: Browser, method: string, path: string, body?: unknown) => jsonCall(browser, `${idp.url}/api/v1`, method, path, body);

const subscription = (endpoint = 'https://push.example.test/send/abc') => ({ endpoint, keys: { p256dh: 'B'.repeat(87), auth: 'A'.repeat(22) } });

async function signedIn(label: string) {
  const user = await newUser(idp.url, label);
  const { browser } = await authorize(config, { onStep: passwordSteps(user.username, PASSWORD) });
  return { user, browser };
}

async function register(browser: Browser, name?: string) {
  const key = deviceKey();
  const start = await call(browser, 'POST', '/mfa/prompt/enroll', {});
  expect(start.status).toBe(200);
  const credential = { transport: 'webpush', public_key: key.jwk, proof: key.proof(start.body.nonce), subscription: subscription() };
  return { key, start, res: await call(browser, 'POST', '/mfa/prompt/confirm', { credential, ...(name ? { name } : {}) }) };
}

test('the VAPID public key is served, the same on every call', async () => {
  const first = await call((await signedIn('prompt-vapid')).browser, 'GET', '/mfa/prompt/vapid-key');
  expect(first.body.public_key).toMatch(/^[A-Za-z0-9_-]{87}$/);
  expect((await fetch(`${idp.url}/api/v1/mfa/prompt/vapid-key`).then((r) => r.json())).public_key).toBe(first.body.public_key);
  // Stored once, private part sealed.
  const row = await idp.container.db.selectFrom('promptVapidKeys').selectAll().executeTakeFirstOrThrow();
  expect(row.privateSealed).toMatch(/^v1\./);
});

test('a browser registers with a proof by its key; the device is listed, renamed, and removed by an admin', async () => {
  const { user, browser } = await signedIn('prompt-register');
  const { start, res } = await register(browser, 'My laptop');
  expect(start.body).toEqual({ nonce: expect.any(String), vapid_public_key: expect.any(String), expires_in: 600 });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({ id: expect.any(String), name: 'My laptop', transport: 'webpush', created_at: expect.any(String), last_used_at: null });
  // The subscription is sealed at rest.
  const row = await idp.container.db.selectFrom('promptDevices').selectAll().where('id', '=', res.body.id).executeTakeFirstOrThrow();
  expect(row.subscriptionSealed).toMatch(/^v1\./);
  expect(row.subscriptionSealed).not.toContain('push.example.test');

  expect((await call(browser, 'GET', '/mfa')).body.prompt).toEqual({ enrolled: true, count: 1 });
  expect((await call(browser, 'GET', '/mfa/prompt-devices')).body['prompt-devices']).toEqual([res.body]);
  const listed = await api('GET', `/users/${user.id}/prompt-devices`);
  expect(listed.status).toBe(200);
  expect(JSON.stringify(listed.body)).not.toMatch(/public_jwk|subscription|"x"/);
  // The registration proved the device in this session, which is fresh enough to rename it.
  const renamed = await call(browser, 'PATCH', `/mfa/prompt-devices/${res.body.id}`, { name: 'Work laptop' });
  expect(renamed.body).toEqual({ ...res.body, name: 'Work laptop' });
  expect((await api('DELETE', `/users/${user.id}/prompt-devices/${res.body.id}`)).status).toBe(204);
  expect((await api('GET', `/users/${user.id}/prompt-devices`)).body['prompt-devices']).toEqual([]);
  expect(await idp.container.db.selectFrom('promptDevices').selectAll().where('id', '=', res.body.id).executeTakeFirst()).toBeUndefined();
});

test('a registration is refused without a valid proof, with a private key, a non-https endpoint, or a used nonce', async () => {
  const { browser } = await signedIn('prompt-register-bad');
  const key = deviceKey();
  const start = await call(browser, 'POST', '/mfa/prompt/enroll', {});
  const good = { transport: 'webpush', public_key: key.jwk, proof: key.proof(start.body.nonce), subscription: subscription() };
  const confirm = (credential: unknown) => call(browser, 'POST', '/mfa/prompt/confirm', { credential });
  expect((await confirm({ ...good, public_key: { ...key.jwk, d: 'A'.repeat(43) } })).status).toBe(400);
  for (const endpoint of ['http://push.example.test/x', 'https://10.0.0.5/x', 'https://[::1]/x', 'https://intranet/x', 'https://user:pw@push.example.test/x']) {
    expect((await confirm({ ...good, subscription: subscription(endpoint) })).status).toBe(400);
  }
  expect((await confirm({ ...good, subscription: subscription(`https://push.example.test/${'x'.repeat(1100)}`) })).status).toBe(400);
  expect((await confirm({ ...good, public_key: { ...key.jwk, x: key.jwk.y } })).status).toBe(400);
  expect((await confirm({ ...good, proof: deviceKey().proof(start.body.nonce) })).status).toBe(401);
  // The failed proof used the nonce up: the right proof for it is refused too.
  expect((await confirm(good)).status).toBe(401);
  expect((await call(browser, 'GET', '/mfa/prompt-devices')).body['prompt-devices']).toEqual([]);
});

test("the organisation's app: no webhook, no app devices; the secret is sealed and never shown", async () => {
  const { browser } = await signedIn('prompt-app');
  const key = deviceKey();
  const start = await call(browser, 'POST', '/mfa/prompt/enroll', {});
  const credential = { transport: 'webhook', public_key: key.jwk, proof: key.proof(start.body.nonce) };
  const refused = await call(browser, 'POST', '/mfa/prompt/confirm', { credential });
  expect(refused.status).toBe(400);

  expect((await api('PUT', '/organizations/default/prompt-webhook', { url: 'http://app.example.test/hook', secret: 's'.repeat(40) })).status).toBe(400);
  expect((await api('PUT', '/organizations/default/prompt-webhook', { url: 'https://app.example.test/hook', secret: 'short' })).status).toBe(400);
  expect((await api('PUT', '/organizations/default/prompt-webhook', { url: 'https://app.example.test/hook', secret: 's'.repeat(40) })).status).toBe(204);
  const shown = await api('GET', '/organizations/default/prompt-webhook');
  expect(shown.body).toEqual({ url: 'https://app.example.test/hook', updated_at: expect.any(String) });
  const row = await idp.container.db.selectFrom('promptWebhooks').selectAll().executeTakeFirstOrThrow();
  expect(row.secretSealed).not.toContain('ssss');
  expect((await api('GET', '/organizations/nowhere/prompt-webhook')).status).toBe(404);

  const again = await call(browser, 'POST', '/mfa/prompt/enroll', {});
  const ok = await call(browser, 'POST', '/mfa/prompt/confirm', { credential: { ...credential, proof: key.proof(again.body.nonce) } });
  expect(ok.status).toBe(201);
  expect(ok.body.transport).toBe('webhook');
  expect((await api('DELETE', '/organizations/default/prompt-webhook')).status).toBe(204);
});

test('the device page and its service worker are served from /prompt/, under the CSP', async () => {
  const page = await fetch(`${idp.url}/prompt/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  const html = await page.text();
  expect(html).toContain('<script src="/assets/prompt.js" defer></script>');
  expect(html).not.toMatch(/<script>/);
  const worker = await fetch(`${idp.url}/prompt/sw.js`);
  expect(worker.headers.get('content-type')).toMatch(/javascript/);
  expect(await worker.text()).toContain('notificationclick');
  for (const asset of ['prompt.js', 'prompt-login.js']) expect((await fetch(`${idp.url}/assets/${asset}`)).status).toBe(200);
  // A prompt id that is not one is a 404, not a lookup.
  expect((await fetch(`${idp.url}/api/v1/prompts/${'%00'.repeat(3)}`)).status).toBe(404);
});
