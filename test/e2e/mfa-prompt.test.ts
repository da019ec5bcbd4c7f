/**
 * Push approval with number matching, end to end: a real IdP, a push service that decrypts what the
 * IdP encrypted for the browser's subscription, and an organisation's app that checks our signature.
 * Devices answer with their own ES256 keys, as a browser or the app would.
 */
import type { Container } from '../../src/container.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, PASSWORD, newUser, passwordStep, type Flow } from '../helpers/mfa-flow.js';
import { apiClient } from '../helpers/api.js';
import { appWebhook, deviceKey, pushService, type PromptMessage } from '../helpers/prompt-device.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const APP_SECRET = 'app-webhook-secret-0123456789abcdef0123';
const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;
let push: Awaited<ReturnType<typeof pushService>>;
let app: Awaited<ReturnType<typeof appWebhook>>;
const api = apiClient(() => idp.url);

beforeAll(async () => {
  idp = await startTestIdp('mfa-prompt', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true, client_name: 'Payroll' });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 }, lockout: { mfa_max_failures: 5 } });
  [push, app] = await Promise.all([pushService(), appWebhook(APP_SECRET)]);
  expect((await api('PUT', '/organizations/default/prompt-webhook', { url: `${app.url}/prompts`, secret: APP_SECRET })).status).toBe(204);
});
afterAll(async () => {
  await Promise.all([push.close(), app.close()]);
  await idp.stop();
});
afterEach(() => clock.reset());

type Device = ReturnType<typeof deviceKey> & { id: string };

/** Registers a device through the method's own enrolment: a nonce, signed by the new key. */
async function enrol(container: Container, userId: string, transport: 'webpush' | 'webhook'): Promise<Device> {
  const key = deviceKey();
  const enrolment = container.factors.get('prompt')!.enrolment!;
  const { shown } = await enrolment.begin(userId, '', '', undefined, 'self_service:test');
  const credential = {
    transport,
    public_key: key.jwk,
    proof: key.proof(String(shown.nonce)),
    ...(transport === 'webpush' ? { subscription: push.subscription() } : {}),
  };
  const event = await enrolment.confirm(userId, { credential }, 'self_service:test');
  return { ...key, id: event.credentialId! };
}

async function atChallenge(label: string, transport: 'webpush' | 'webhook' = 'webpush') {
  const user = await newUser(idp.url, label);
  const device = await enrol(idp.container, user.id, transport);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['prompt'] });
  return { user, device, flow };
}

const receiverOf = (transport: 'webpush' | 'webhook') => (transport === 'webpush' ? push : app);

async function begin(flow: Flow, transport: 'webpush' | 'webhook' = 'webpush') {
  const res = await flow.post('mfa/prompt/begin');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'prompt_sent', number: expect.any(Number), expires_in: 120, delivered: 1 });
  const message: PromptMessage & { vapid?: string } = await receiverOf(transport).next();
  return { number: res.body.number as number, message };
}

const respond = async (id: string, body: unknown) => {
  const res = await fetch(`${idp.url}/api/v1/prompts/${id}/respond`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch((): any => undefined) };
};
const status = (flow: Flow) => flow.post('mfa/prompt/status');

test('approving with the right number, through Web Push, ends the login with swk in amr', async () => {
  const { flow, device } = await atChallenge('prompt-ok');
  const { number, message } = await begin(flow);
  expect(message.vapid).toMatch(/^vapid /);
  expect(message).toMatchObject({ app: 'Payroll', location: 'Unknown', device_id: device.id });
  expect(message.choices).toHaveLength(3);
  expect(message.choices).toContain(number);
  expect(new Set(message.choices).size).toBe(3);
  expect(message.callback_url).toBe(`${idp.url}/api/v1/prompts/${message.prompt_id}/respond`);
  // The device page shows the login and the choices, never which one is right.
  const details = await fetch(`${idp.url}/api/v1/prompts/${message.prompt_id}`).then((r) => r.json());
  expect(details).toEqual({ app: 'Payroll', location: 'Unknown', time: expect.any(String), choices: message.choices, expires_at: expect.any(String) });

  expect((await status(flow)).body).toEqual({ status: 'pending', number, expires_in: expect.any(Number) });
  expect(await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number))).toEqual({ status: 200, body: { status: 'approved' } });
  const done = await status(flow);
  expect(done.status).toBe(200);
  expect(done.body.status).toBe('success');
  const { claims } = await flow.complete(done.body.redirect_to);
  expect(claims.amr).toEqual(['pwd', 'swk', 'mfa']);
});

test("the organisation's app gets the prompt signed, and its device's approval works the same", async () => {
  const { flow, device } = await atChallenge('prompt-app', 'webhook');
  const { number, message } = await begin(flow, 'webhook');
  expect(message.device_id).toBe(device.id);
  await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number));
  expect((await status(flow)).body.status).toBe('success');
});

test('a wrong number is a denial, counted as a failure; the answer cannot be changed afterwards', async () => {
  const { flow, device, user } = await atChallenge('prompt-wrong');
  const { number, message } = await begin(flow);
  const wrong = message.choices.find((c) => c !== number)!;
  expect(await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', wrong))).toEqual({ status: 200, body: { status: 'denied' } });
  const refused = await status(flow);
  expect(refused.status).toBe(401);
  expect(refused.body.error).toBe('invalid_code');
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(1);
  // The right number now is too late: answered once.
  expect((await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number))).status).toBe(409);
  // Polling again tells the denial without counting it again.
  expect((await status(flow)).body).toEqual({ status: 'denied' });
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(1);
});

test('"It was not me" denies: the login is refused, and a new prompt is needed', async () => {
  const { flow, device } = await atChallenge('prompt-deny');
  const { message } = await begin(flow);
  expect(await respond(message.prompt_id, device.answer(message.prompt_id, 'deny'))).toEqual({ status: 200, body: { status: 'denied' } });
  expect((await status(flow)).status).toBe(401);
  const again = await begin(flow);
  await respond(again.message.prompt_id, device.answer(again.message.prompt_id, 'approve', again.number));
  expect((await status(flow)).body.status).toBe('success');
});

test('approve-only (no number) and hostile bodies are refused and change nothing', async () => {
  const { flow, device } = await atChallenge('prompt-nonumber');
  const { number, message } = await begin(flow);
  const id = message.prompt_id;
  const noNumber = { decision: 'approve', signature: device.sign(`idp-prompt-answer-v1\n${id}\napprove\n`) };
  expect((await respond(id, noNumber)).status).toBe(400);
  for (const hostile of [
    {},
    { decision: 'approve', number: '12', signature: 'x' },
    { decision: 'maybe', number, signature: 'x' },
    { ...device.answer(id, 'approve', number), number: 100 },
  ]) {
    expect((await respond(id, hostile)).status).toBe(400);
  }
  expect((await respond('not-a-prompt', device.answer(id, 'approve', number))).status).toBe(404);
  expect((await status(flow)).body.status).toBe('pending');
  await respond(id, device.answer(id, 'approve', number));
  expect((await status(flow)).body.status).toBe('success');
});

test("a forged signature, or another account's device, is refused", async () => {
  const { flow, device } = await atChallenge('prompt-forged');
  const other = await atChallenge('prompt-forged-other');
  const { number, message } = await begin(flow);
  const id = message.prompt_id;
  const forged = { ...device.answer(id, 'approve', number), signature: deviceKey().answer(id, 'approve', number).signature };
  expect((await respond(id, forged)).status).toBe(401);
  expect((await respond(id, other.device.answer(id, 'approve', number))).body.error).toBe('invalid_signature');
  // A signature over another decision or number does not carry over.
  expect((await respond(id, { ...device.answer(id, 'deny'), decision: 'approve', number })).status).toBe(401);
  expect((await status(flow)).body.status).toBe('pending');
});

test('a replayed approval is ignored, and approving another login’s prompt does not finish this one', async () => {
  const mine = await atChallenge('prompt-replay');
  const { number, message } = await begin(mine.flow);
  const approval = mine.device.answer(message.prompt_id, 'approve', number);
  await respond(message.prompt_id, approval);
  expect((await status(mine.flow)).body.status).toBe('success');
  // After the login finished, the same signed body again changes nothing.
  expect((await respond(message.prompt_id, approval)).status).toBe(409);

  // Two logins of one user: the approval of the second's prompt leaves the first pending.
  const user = await newUser(idp.url, 'prompt-two-logins');
  const device = await enrol(idp.container, user.id, 'webpush');
  const first = (await passwordStep(config, user.username, PASSWORD)).flow;
  const second = (await passwordStep(config, user.username, PASSWORD)).flow;
  await begin(first);
  const theirs = await begin(second);
  await respond(theirs.message.prompt_id, device.answer(theirs.message.prompt_id, 'approve', theirs.number));
  expect((await status(first)).body.status).toBe('pending');
  expect((await status(second)).body.status).toBe('success');
});

test('a new prompt closes the earlier one of the same login', async () => {
  const { flow, device } = await atChallenge('prompt-replaced');
  const first = await begin(flow);
  const second = await begin(flow);
  const late = await respond(first.message.prompt_id, device.answer(first.message.prompt_id, 'approve', first.number));
  expect(late.status).toBe(410);
  expect((await status(flow)).body.status).toBe('pending');
  await respond(second.message.prompt_id, device.answer(second.message.prompt_id, 'approve', second.number));
  expect((await status(flow)).body.status).toBe('success');
});

test('a prompt expires after 2 minutes: a late approval is refused and the login is told', async () => {
  const { flow, device } = await atChallenge('prompt-expiry');
  const { number, message } = await begin(flow);
  clock.advance(2 * MINUTE - 1000);
  expect((await status(flow)).body.status).toBe('pending');
  clock.advance(1000);
  expect((await status(flow)).body).toEqual({ status: 'expired' });
  expect((await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number))).body.error).toBe('prompt_expired');
  expect((await fetch(`${idp.url}/api/v1/prompts/${message.prompt_id}`)).status).toBe(410);
  expect((await status(flow)).body).toEqual({ status: 'expired' });
});

test('prompts are throttled per account (push fatigue): 429 with Retry-After', async () => {
  const { flow } = await atChallenge('prompt-throttle');
  const answers = [];
  for (let i = 0; i < 20; i++) answers.push(await flow.post('mfa/prompt/begin'));
  const sent = answers.filter((a) => a.status === 200);
  expect(sent).toHaveLength(3);
  const throttled = answers.filter((a) => a.status === 429);
  expect(throttled).toHaveLength(17);
  expect(Number(throttled[0]!.res.headers.get('retry-after'))).toBeGreaterThan(0);
  for (let i = 0; i < 3; i++) await push.next();
  expect(push.pending()).toBe(0);
});

test('twenty concurrent approvals (and polls) of one prompt make one state change and one login', async () => {
  const { flow, device, user } = await atChallenge('prompt-race');
  const { number, message } = await begin(flow);
  const approval = device.answer(message.prompt_id, 'approve', number);
  const answers = await Promise.all(Array.from({ length: 20 }, () => respond(message.prompt_id, approval)));
  expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
  expect(answers.filter((a) => a.status !== 200).map((a) => a.status)).toEqual(Array(19).fill(409));
  const polls = await Promise.all(Array.from({ length: 10 }, () => status(flow)));
  expect(polls.filter((p) => p.body.status === 'success')).toHaveLength(1);
  // The polls that lost the answer to the one that finished were not counted as failures.
  expect(polls.filter((p) => p.status !== 200 && p.body.error !== 'invalid_step')).toEqual([]);
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(0);
});

test('polling a pending prompt counts nothing: many polls never lock the account', async () => {
  const { flow, device, user } = await atChallenge('prompt-poll');
  const { number, message } = await begin(flow);
  for (let i = 0; i < 30; i++) expect((await status(flow)).body.status).toBe('pending');
  const account = await idp.container.accounts.findById(user.id);
  expect(account!.mfaFailedAttempts).toBe(0);
  expect(account!.mfaLockedUntil).toBeNull();
  await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number));
  expect((await status(flow)).body.status).toBe('success');
});

test('polling with no prompt started is refused before any check', async () => {
  const { flow } = await atChallenge('prompt-none');
  const res = await status(flow);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_step');
});

test('without script, the challenge page sends the prompt, shows the number, and its form asks whether the answer is in', async () => {
  const { flow, device } = await atChallenge('prompt-page');
  /** A form post; one that shows a page is answered with a 303 to the step page (Post/Redirect/Get), which the browser then shows. */
  const form = async (path: string, csrf: string) => {
    const res = await flow.browser.fetch(`${flow.interactionUrl!.href}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf }),
    });
    const toStepPage = res.status === 303 && new URL(res.headers.get('location')!, flow.interactionUrl).href === flow.interactionUrl!.href;
    if (!toStepPage) return { status: res.status, html: await res.text() };
    const page = await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } });
    return { status: page.status, html: await page.text(), redirected: true };
  };
  const page = await (await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } })).text();
  expect(page).toContain('mfa/prompt/begin');
  const csrf = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page)![1]!;
  const sent = await form('mfa/prompt/begin', csrf);
  const message = await push.next();
  const number = Number(/data-prompt-number>(\d+)</.exec(sent.html)![1]);
  expect(message.choices).toContain(number);
  expect(sent.html).toContain('mfa/prompt/status');
  expect(sent.redirected).toBe(true);
  const waiting = await form('mfa/prompt/status', csrf);
  expect(waiting).toMatchObject({ status: 200, redirected: true });
  expect(waiting.html).toContain(`data-prompt-number>${number}<`);
  await respond(message.prompt_id, device.answer(message.prompt_id, 'approve', number));
  expect((await form('mfa/prompt/status', csrf)).status).toBe(303);
});

test('a device that cannot be reached does not stop the others: the prompt goes to every device', async () => {
  const { flow, device, user } = await atChallenge('prompt-two-devices');
  // A second device, on the organisation's app.
  const app2 = await enrol(idp.container, user.id, 'webhook');
  const res = await flow.post('mfa/prompt/begin');
  expect(res.body.delivered).toBe(2);
  const [viaPush, viaApp] = await Promise.all([push.next(), app.next()]);
  expect(viaPush.prompt_id).toBe(viaApp.prompt_id);
  expect(new Set([viaPush.device_id, viaApp.device_id])).toEqual(new Set([device.id, app2.id]));
  // The app's device answers; the browser's answer afterwards is too late.
  await respond(viaApp.prompt_id, app2.answer(viaApp.prompt_id, 'approve', res.body.number));
  expect((await respond(viaPush.prompt_id, device.answer(viaPush.prompt_id, 'approve', res.body.number))).status).toBe(409);
  expect((await status(flow)).body.status).toBe('success');

  // Its push service gone, the browser is not reached; the login is still told the prompt went out to none.
  await idp.container.db
    .updateTable('promptDevices')
    .set({ subscriptionSealed: idp.container.box.seal(JSON.stringify({ ...push.subscription(), endpoint: 'http://127.0.0.1:9/push' })) })
    .where('id', '=', device.id)
    .execute();
  const next = (await passwordStep(config, user.username, PASSWORD)).flow;
  const again = await next.post('mfa/prompt/begin');
  expect(again.status).toBe(200);
  expect(again.body.delivered).toBe(1);
  await app.next();
});
