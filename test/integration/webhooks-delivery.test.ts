/**
 * Webhook subscriptions and signed deliveries: the admin API (secret shown once and sealed at rest,
 * rotation, targets refused by the SSRF rules, organisation confinement, hostile bodies), the signed
 * request a real receiver verifies with `verifyPayload` (tampering and replay outside the window
 * refused), retries with backoff driven by `runOnce(now)`, failure after the last attempt, the
 * delivery log and redelivery, and several workers racing over the same due deliveries.
 */
import { signPayload, verifyPayload } from '../../src/lib/webhook-signature.js';
import { createWebhookRepository } from '../../src/store/repositories/webhook.repository.js';
import { guardedLookup } from '../../src/webhooks/target.js';
import { MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, createDeliveryWorker } from '../../src/webhooks/delivery-worker.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

let idp: TestIdp;
let receiver: Receiver;
const api = apiClient(() => idp.url);
const orgs = { acme: '', globex: '' };
const keys = { acme: '', globex: '', reader: '' };

beforeAll(async () => {
  // The worker's timer is off: each test runs it itself, at the time it chooses.
  idp = await startTestIdp('webhooks-delivery', 'postgres+redis', {
    webhooks: { allowHttpLoopback: true, allowPrivateTargets: false, workerIntervalMs: 0, timeoutMs: 1000 },
  });
  receiver = await startReceiver();
  for (const slug of ['acme', 'globex'] as const) orgs[slug] = (await api('POST', '/organizations', { slug })).body.organization.id;
  keys.acme = (await idp.container.apiKeys.create('acme', ['idp:write', 'idp:read'], orgs.acme)).key;
  keys.globex = (await idp.container.apiKeys.create('globex', ['idp:write', 'idp:read'], orgs.globex)).key;
  keys.reader = (await idp.container.apiKeys.create('reader', ['idp:read'], null)).key;
});
afterAll(async () => {
  await receiver.close();
  await idp.stop();
});

const worker = () => idp.container.webhookWorker;
const subscribe = async (over: Record<string, unknown> = {}, key?: string) => {
  const r = await api('POST', '/webhooks', { url: receiver.url, events: ['login.succeeded'], ...over }, key);
  expect(r.status).toBe(201);
  receiver.setSecret(r.body.secret);
  return r.body as { id: string; secret: string };
};
const send = (subscriptionId: string, data: Record<string, unknown> = {}) =>
  idp.container.webhookQueue.sendTo(subscriptionId, { type: 'login.succeeded', resource: { type: 'user', id: 'u-1' }, data });
const delivery = async (subId: string, id: string) =>
  (await api('GET', `/webhooks/${subId}/deliveries`)).body.deliveries.find((d: { id: string }) => d.id === id);
/** Time far enough past an attempt for the next one to be due, whatever its jitter. */
const after = (at: number, attempt: number) => at + RETRY_DELAYS_SECONDS[attempt - 1]! * 1200 + 1000;

describe('subscriptions', () => {
  test('create shows the secret once, sealed at rest; read, list, update, delete; each change audited', async () => {
    const created = await api('POST', '/webhooks', { url: receiver.url, events: ['login.succeeded', 'login.failed'], description: 'SIEM' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      url: receiver.url,
      events: ['login.succeeded', 'login.failed'],
      organization: null,
      description: 'SIEM',
      enabled: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
    });
    const id = created.body.id as string;
    const row = await idp.container.db.selectFrom('webhookSubscriptions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.secretSealed).not.toContain(created.body.secret);
    expect(idp.container.box.open(row.secretSealed)).toBe(created.body.secret);

    const read = await api('GET', `/webhooks/${id}`, undefined, keys.reader);
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    expect((await api('GET', '/webhooks', undefined, keys.reader)).body.webhooks.map((w: { id: string }) => w.id)).toContain(id);

    const patched = await api('PATCH', `/webhooks/${id}`, { enabled: false, description: null });
    expect(patched.body).toMatchObject({ enabled: false, description: null, events: ['login.succeeded', 'login.failed'] });
    expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(204);
    expectJsonError(await api('GET', `/webhooks/${id}`), 404, 'not_found');
    const types = (await idp.container.db.selectFrom('auditEvents').select(['type', 'data']).where('type', 'like', 'admin.webhook.%').execute()).filter(
      (e) => (e.data as { webhook_id?: string }).webhook_id === id,
    );
    expect(types.map((e) => e.type)).toEqual(['admin.webhook.created', 'admin.webhook.updated', 'admin.webhook.deleted']);
  });

  test('rotating the secret shows a new one once; deliveries are then signed with it only', async () => {
    const sub = await subscribe();
    const rotated = await api('POST', `/webhooks/${sub.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(sub.secret);
    const id = await send(sub.id);
    await worker().runOnce();
    const got = await receiver.next((r) => r.delivery === id);
    expect(verifyPayload(sub.secret, got.body, got.signature, Date.now())).toBe(false);
    expect(verifyPayload(rotated.body.secret, got.body, got.signature, Date.now())).toBe(true);
  });

  test('read-only keys cannot change; keys of an organisation see only its subscriptions', async () => {
    expectJsonError(await api('POST', '/webhooks', { url: receiver.url, events: ['login.failed'] }, keys.reader), 403, 'insufficient_scope');
    const acme = await subscribe({}, keys.acme);
    expect((await api('GET', `/webhooks/${acme.id}`, undefined, keys.acme)).body.organization).toBe(orgs.acme);
    for (const [method, path] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/rotate-secret'],
      ['GET', '/deliveries'],
    ] as const)
      expectJsonError(await api(method, `/webhooks/${acme.id}${path}`, method === 'PATCH' ? { enabled: false } : undefined, keys.globex), 404, 'not_found');
    expect((await api('GET', '/webhooks', undefined, keys.globex)).body.webhooks.map((w: { id: string }) => w.id)).not.toContain(acme.id);
    expectJsonError(await api('POST', '/webhooks', { url: receiver.url, events: ['login.failed'], organization: orgs.acme }, keys.globex), 404, 'not_found');
  });

  test.each([
    ['http to a public host', 'http://example.com/hook'],
    ['a private address', 'https://10.0.0.8/hook'],
    ['cloud metadata (link-local)', 'https://169.254.169.254/latest/meta-data'],
    ['an IPv4-mapped private address', 'https://[::ffff:192.168.1.1]/hook'],
    ['a unique-local IPv6 address', 'https://[fd00::1]/hook'],
    ['credentials in the URL', 'https://user:pw@example.com/hook'],
    ['not a URL', 'hook'],
    ['another scheme', 'ftp://example.com/hook'],
  ])('a target with %s is refused (400)', async (_, url) => {
    expectJsonError(await api('POST', '/webhooks', { url, events: ['login.failed'] }), 400, 'invalid_request', 'url');
  });

  test('a host name is judged on the addresses it resolves to, at connection time', async () => {
    const strict = { allowHttpLoopback: false, allowPrivateTargets: false };
    const resolve = (rules: typeof strict) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((r) => guardedLookup(rules)('localhost', {}, (err, address) => r({ err, address })));
    expect((await resolve(strict)).err?.code).toBe('ETARGETREFUSED');
    expect((await resolve({ ...strict, allowPrivateTargets: true })).address).toMatch(/^(127\.0\.0\.1|::1)$/);
    // A delivery whose target is refused is a failed attempt that names why, with no request made.
    const sub = await subscribe({ url: 'https://localtest.invalid/hook' });
    const id = await send(sub.id);
    await worker().runOnce();
    const d = await delivery(sub.id, id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(d.last_error).toEqual(expect.any(String));
  });

  test.each([
    ['an unknown field', { url: 'https://example.com/h', events: ['login.failed'], secret: 'mine' }, 'secret'],
    ['an unknown event', { url: 'https://example.com/h', events: ['user.deleted'] }, 'events'],
    ['no events', { url: 'https://example.com/h', events: [] }, 'events'],
    ['a repeated event', { url: 'https://example.com/h', events: ['login.failed', 'login.failed'] }, 'events'],
    ['a control character', { url: 'https://example.com/h\u0000', events: ['login.failed'] }, 'url'],
    ['a huge URL', { url: `https://example.com/${'a'.repeat(5000)}`, events: ['login.failed'] }, 'url'],
    ['an organisation that is not a uuid', { url: 'https://example.com/h', events: ['login.failed'], organization: "x' or 1=1" }, 'organization'],
    ['enabled as a string', { url: 'https://example.com/h', events: ['login.failed'], enabled: 'yes' }, 'enabled'],
  ])('a body with %s is a 400 naming the field', async (_, body, field) => {
    expectJsonError(await api('POST', '/webhooks', body), 400, 'invalid_request', field);
  });

  test('malformed JSON, a bad id, an unknown organisation and a bad cursor are 4xx, never 500', async () => {
    expectJsonError(await api('POST', '/webhooks', undefined, undefined, { body: '{"url":', type: 'application/json' }), 400);
    expectJsonError(await api('GET', '/webhooks/not-a-uuid'), 400, 'invalid_request', 'id');
    expectJsonError(
      await api('POST', '/webhooks', { url: 'https://example.com/h', events: ['login.failed'], organization: '00000000-0000-4000-8000-000000000000' }),
      404,
    );
    const sub = await subscribe();
    expectJsonError(await api('GET', `/webhooks/${sub.id}/deliveries?cursor=%E2%80%AEzz`), 400, 'invalid_request', 'cursor');
    expectJsonError(await api('GET', `/webhooks/${sub.id}/deliveries?limit=100000`), 400, 'invalid_request', 'limit');
  });
});

describe('deliveries', () => {
  test('a delivery is a signed POST the receiver verifies; a changed body or a replay outside the window fails verification', async () => {
    const sub = await subscribe();
    const id = await send(sub.id, { client_id: 'app' });
    const at = Date.now();
    expect(await worker().runOnce(at)).toBeGreaterThanOrEqual(1);
    const got = await receiver.next((r) => r.delivery === id);
    expect(got.verified).toBe(true);
    expect(got.event).toBe('login.succeeded');
    expect(got.json).toEqual({
      id: expect.any(String),
      type: 'login.succeeded',
      created_at: expect.any(String),
      resource: { type: 'user', id: 'u-1' },
      data: { client_id: 'app' },
    });
    expect(got.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    // Tampering: one byte of the body changed, or a signature made with another secret.
    expect(verifyPayload(sub.secret, got.body.replace('"app"', '"ap2"'), got.signature, at)).toBe(false);
    expect(verifyPayload(sub.secret, got.body, signPayload('whsec_other', got.body, at), at)).toBe(false);
    // Replay: the same request, presented after the five-minute window, is refused; within it, accepted.
    expect(verifyPayload(sub.secret, got.body, got.signature, at + 299_000)).toBe(true);
    expect(verifyPayload(sub.secret, got.body, got.signature, at + 301_000)).toBe(false);
    expect(verifyPayload(sub.secret, got.body, got.signature, at - 301_000)).toBe(false);
    expect(await delivery(sub.id, id)).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200, last_error: null });
  });

  test('500s are retried with backoff (not before the delay), then a 2xx ends it', async () => {
    const sub = await subscribe();
    const id = await send(sub.id);
    receiver.answer(500, 503);
    const t0 = Date.now();
    await worker().runOnce(t0);
    let d = await delivery(sub.id, id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    const due1 = Date.parse(d.next_attempt_at) - t0;
    expect(due1).toBeGreaterThanOrEqual(8000);
    expect(due1).toBeLessThanOrEqual(12_000);
    // Not due yet: nothing is sent.
    await worker().runOnce(t0 + 7000);
    expect((await delivery(sub.id, id)).attempts).toBe(1);
    const t1 = after(t0, 1);
    await worker().runOnce(t1);
    d = await delivery(sub.id, id);
    expect(d).toMatchObject({ status: 'pending', attempts: 2, last_status_code: 503 });
    const due2 = Date.parse(d.next_attempt_at) - t1;
    expect(due2).toBeGreaterThanOrEqual(48_000);
    expect(due2).toBeLessThanOrEqual(72_000);
    await worker().runOnce(after(t1, 2));
    d = await delivery(sub.id, id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, last_status_code: 200, next_attempt_at: null });
    expect(receiver.received.filter((r) => r.delivery === id)).toHaveLength(3);
  });

  test('after the last attempt a delivery has failed and is not tried again; redelivery sends it once more', async () => {
    const sub = await subscribe();
    const id = await send(sub.id);
    receiver.answer(...Array<number>(MAX_ATTEMPTS).fill(500));
    let t = Date.now();
    receiver.setClock(() => t);
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        await worker().runOnce(t);
        if (attempt < MAX_ATTEMPTS) t = after(t, attempt);
      }
    } finally {
      receiver.setClock(Date.now);
    }
    expect(await delivery(sub.id, id)).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, last_status_code: 500, next_attempt_at: null });
    await worker().runOnce(t + 86_400_000);
    expect(receiver.received.filter((r) => r.delivery === id)).toHaveLength(MAX_ATTEMPTS);

    const again = await api('POST', `/webhooks/${sub.id}/deliveries/${id}/redeliver`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, status: 'pending', attempts: 0 });
    // Redelivering what is already pending is a conflict; an unknown delivery is a 404.
    expectJsonError(await api('POST', `/webhooks/${sub.id}/deliveries/${id}/redeliver`), 409, 'conflict');
    expectJsonError(await api('POST', `/webhooks/${sub.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`), 404, 'not_found');
    await worker().runOnce();
    expect(await delivery(sub.id, id)).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 });
    expect(receiver.received.filter((r) => r.delivery === id)).toHaveLength(MAX_ATTEMPTS + 1);
  });

  test('a receiver that does not answer within the timeout counts as a failed attempt', async () => {
    const sub = await subscribe();
    const id = await send(sub.id);
    receiver.hang(true);
    try {
      await worker().runOnce();
    } finally {
      receiver.hang(false);
    }
    expect(await delivery(sub.id, id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'timeout' });
  });

  test('the delivery log pages newest first and shows the payload; a disabled subscription gets nothing', async () => {
    const sub = await subscribe();
    const ids = [await send(sub.id, { n: 1 }), await send(sub.id, { n: 2 }), await send(sub.id, { n: 3 })];
    const first = await api('GET', `/webhooks/${sub.id}/deliveries?limit=2`, undefined, keys.reader);
    expect(first.status).toBe(200);
    expect(first.body.deliveries).toHaveLength(2);
    expect(first.body.deliveries[0]).toMatchObject({ event: 'login.succeeded', status: 'pending', attempts: 0, payload: { type: 'login.succeeded' } });
    const rest = await api('GET', `/webhooks/${sub.id}/deliveries?limit=2&cursor=${first.body.next_cursor as string}`);
    expect(rest.body.next_cursor).toBeNull();
    expect([...first.body.deliveries, ...rest.body.deliveries].map((d: { id: string }) => d.id).sort()).toEqual([...ids].sort());

    await api('PATCH', `/webhooks/${sub.id}`, { enabled: false });
    await worker().runOnce();
    expect(receiver.received.filter((r) => ids.includes(r.delivery!))).toHaveLength(0);
    await api('PATCH', `/webhooks/${sub.id}`, { enabled: true });
    await worker().runOnce();
    expect(receiver.received.filter((r) => ids.includes(r.delivery!))).toHaveLength(3);
  });

  test('four workers racing over the same 60 due deliveries send each exactly once', async () => {
    const sub = await subscribe();
    const ids = await Promise.all(Array.from({ length: 60 }, (_, n) => send(sub.id, { n })));
    const c = idp.container;
    const rules = { allowHttpLoopback: true, allowPrivateTargets: false };
    // As on four nodes: each worker its own repository over the shared database, 20 per run.
    const workers = Array.from({ length: 4 }, () =>
      createDeliveryWorker({ repo: createWebhookRepository(c.db), box: c.box, clock: c.clock, logger: c.logger, rules, batch: 20 }),
    );
    const now = Date.now();
    const taken = await Promise.all(workers.flatMap((w) => [w.runOnce(now), w.runOnce(now)]));
    expect(taken.reduce((a, b) => a + b, 0)).toBe(60);
    const got = receiver.received.filter((r) => ids.includes(r.delivery!));
    expect(got).toHaveLength(60);
    expect(new Set(got.map((r) => r.delivery)).size).toBe(60);
    expect(got.every((r) => r.verified)).toBe(true);
  });
});
