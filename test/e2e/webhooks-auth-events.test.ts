/**
 * Auth-event webhooks: a login's success, a wrong password and a lockout reach, signed, the
 * subscriber of the user's organisation only (and an operator's subscription for every
 * organisation), with the facts a receiver may see and never the password.
 */
import { apiClient } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, awayFromStepBoundary, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

let idp: TestIdp;
let config: oc.Configuration;
let clientId: string;
const api = apiClient(() => idp.url);
const receivers: Record<'acme' | 'globex' | 'all', Receiver> = {} as never;

beforeAll(async () => {
  idp = await startTestIdp('webhooks-auth-events', 'postgres+redis', {
    rateLimit: { loginPerIpPerMinute: 10_000 },
    webhooks: { allowHttpLoopback: true, allowPrivateTargets: false, workerIntervalMs: 200 },
  });
  const client = await registerClient(idp.url, { first_party: true });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled' }, lockout: { max_failures: 2 } });
  for (const slug of ['acme', 'globex'] as const) {
    const org = (await api('POST', '/organizations', { slug })).body.organization.id as string;
    receivers[slug] = await startReceiver();
    const events = ['login.succeeded', 'login.failed', 'account.locked', 'device.trusted'];
    const sub = await api('POST', '/webhooks', { url: receivers[slug].url, events, organization: org });
    receivers[slug].setSecret(sub.body.secret);
  }
  receivers.all = await startReceiver();
  receivers.all.setSecret((await api('POST', '/webhooks', { url: receivers.all.url, events: ['login.succeeded'] })).body.secret);
});
afterAll(async () => {
  await Promise.all(Object.values(receivers).map((r) => r.close()));
  await idp.stop();
});

const forUser = (id: string, type: string) => (r: { json: any }) => r.json?.resource?.id === id && r.json?.type === type;

test("a login's success reaches its organisation's subscriber and the operator's, signed, with its facts", async () => {
  const user = await newUser(idp.url, 'wh-ok', { organization: 'acme' });
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
  await flow.complete(login.body.redirect_to);
  const got = await receivers.acme.next(forUser(user.id, 'login.succeeded'));
  expect(got.verified).toBe(true);
  expect(got.event).toBe('login.succeeded');
  expect(got.json).toEqual({
    id: expect.any(String),
    type: 'login.succeeded',
    created_at: expect.any(String),
    resource: { type: 'user', id: user.id },
    data: expect.objectContaining({ user_id: user.id, client_id: clientId, amr: ['pwd'], acr: expect.any(String), ip: expect.any(String) }),
  });
  const all = await receivers.all.next(forUser(user.id, 'login.succeeded'));
  expect(all.verified).toBe(true);
  // Another organisation's subscriber hears nothing of it.
  await new Promise((r) => setTimeout(r, 600));
  expect(receivers.globex.received.filter((r) => r.json?.resource?.id === user.id)).toEqual([]);
});

test('a wrong password and the lockout it leads to reach the subscriber, without the password', async () => {
  const user = await newUser(idp.url, 'wh-bad', { organization: 'globex' });
  const wrong = 'not-the-password-at-all';
  for (let i = 0; i < 2; i++) expect((await passwordStep(config, user.username, wrong)).login.status).toBe(401);
  const failed = await receivers.globex.next(forUser(user.id, 'login.failed'));
  expect(failed.verified).toBe(true);
  expect(failed.json.data).toMatchObject({ user_id: user.id, reason: expect.any(String), factor: 'password' });
  const locked = await receivers.globex.next(forUser(user.id, 'account.locked'));
  expect(locked.json.data).toMatchObject({ user_id: user.id, failures: 2, until: expect.any(String) });
  for (const r of receivers.globex.received) expect(r.body).not.toContain(wrong);
  await new Promise((r) => setTimeout(r, 600));
  expect(receivers.acme.received.filter((r) => r.json?.resource?.id === user.id)).toEqual([]);
  // The operator's subscription asked only for successes.
  expect(receivers.all.received.filter((r) => r.json?.resource?.id === user.id)).toEqual([]);
});

test('a login name nobody has sends nothing; a disabled subscription gets nothing', async () => {
  const before = receivers.acme.received.length + receivers.globex.received.length;
  expect((await passwordStep(config, 'nobody-at-all', 'x'.repeat(12))).login.status).toBe(401);
  const subs = (await api('GET', '/webhooks')).body.webhooks as { id: string; url: string }[];
  const acme = subs.find((s) => s.url === receivers.acme.url)!;
  await api('PATCH', `/webhooks/${acme.id}`, { enabled: false });
  const user = await newUser(idp.url, 'wh-off', { organization: 'acme' });
  expect((await passwordStep(config, user.username, PASSWORD)).login.body.status).toBe('success');
  await receivers.all.next(forUser(user.id, 'login.succeeded'));
  await new Promise((r) => setTimeout(r, 600));
  expect(receivers.acme.received.length + receivers.globex.received.length).toBe(before);
  await api('PATCH', `/webhooks/${acme.id}`, { enabled: true });
});

test("a trusted device (an event recorded without its organisation) reaches the user's organisation's subscriber", async () => {
  await api('PATCH', '/organizations/acme/settings', { mfa: { policy: 'any', trusted_device_duration_days: 7 } });
  try {
    const user = await newUser(idp.url, 'wh-device', { organization: 'acme' });
    const secret = await seedTotp(idp.container, user.id);
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.status).toBe('mfa_required');
    await awayFromStepBoundary();
    expect((await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) })).body.status).toBe('trust_device');
    expect((await flow.post('trust-device', { trust: true, name: 'Work laptop' })).body.status).toBe('success');
    const trusted = await receivers.acme.next(forUser(user.id, 'device.trusted'));
    expect(trusted.verified).toBe(true);
    expect(trusted.json.data).toMatchObject({ user_id: user.id, device_id: expect.any(String), days: 7 });
    // The device's token is never in it.
    expect(Object.keys(trusted.json.data).sort()).toEqual(['client_id', 'days', 'device_id', 'ip', 'user_id']);
  } finally {
    await api('PATCH', '/organizations/acme/settings', { mfa: { policy: 'disabled', trusted_device_duration_days: 0 } });
  }
});
