/**
 * MFA steps run through an organisation's own app: the login's challenge reaches the platform as a
 * signed `auth.step` webhook, the platform answers with its API key at POST /api/v1/auth/step, the
 * registered factors judge the answer, the result comes back by webhook, and the browser's poll
 * finishes the login in its own request. The methods are test plug-ins registered under the names
 * the real ones will have (`questions`, `sms`, `prompt`), through the container's extension point.
 */
import { randomInt } from 'node:crypto';
import { FactorError, eventOf, type Factor } from '../../src/authn/factor.js';
import type { FactorDeps } from '../../src/authn/factors/registry.js';
import { IdpError } from '../../src/lib/errors.js';
import type { FactorDescriptor, MfaMethod } from '../../src/policy/types.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, PASSWORD, newUser, passwordStep, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { startReceiver, type Received, type Receiver } from '../helpers/webhook-receiver.js';

const descriptor = (method: MfaMethod, amr: string, aal: 1 | 2): FactorDescriptor => ({
  method,
  amr: [amr],
  secondFactor: true,
  phishingResistant: false,
  aal,
  enrollableInLogin: false,
  recovery: false,
});

const QUESTIONS = [
  { identifier: 'q-pet', question: 'Name of your first pet?', answer: 'rex' },
  { identifier: 'q-city', question: 'City you were born in?', answer: 'paris' },
];

/** Security questions: the start shows the questions, the answer must name each with its answer. */
const questionsFactor: Factor = {
  descriptor: descriptor('questions', 'kba', 1),
  paths: { challenge: 'questions', manage: 'questions' },
  challengeView: '<p>Answer your questions.</p>',
  recognizes: () => false,
  challenge: {
    start: async () => ({ shown: { questions: QUESTIONS.map(({ identifier, question }) => ({ identifier, question })) }, state: { asked: true } }),
  },
  async verify(ctx, response) {
    const answers = (response as { answers?: { identifier: string; answer: string }[] } | undefined)?.answers;
    const right = Array.isArray(answers) && QUESTIONS.every((q) => answers.some((a) => a.identifier === q.identifier && a.answer === q.answer));
    if (!ctx.challenge || !right) throw new FactorError('invalid_code');
    return eventOf(questionsFactor.descriptor, ctx.now, 'questions');
  },
};

/** What the test's "SMS provider" sent: the last code per destination. */
const sent = new Map<string, string>();

/** Codes by SMS to a verified phone destination; one code per 30 s; the code stays answerable until right. */
const smsFactor = (deps: FactorDeps): Factor => ({
  descriptor: descriptor('sms', 'sms', 2),
  paths: { challenge: 'otp', manage: 'sms' },
  challengeView: '<p>Enter the code.</p>',
  recognizes: () => false,
  challenge: {
    answered: 'until_verified',
    async start(ctx, input) {
      const id = (input as { destination_id?: unknown } | undefined)?.destination_id;
      const phones = await deps.credentials.listActive(ctx.accountId, 'phone');
      if (!phones.some((p) => p.id === id)) throw new IdpError('invalid_request', 'destination_id: not a verified destination');
      const last = lastSent.get(ctx.binding!);
      if (last !== undefined && ctx.now - last < 30_000) throw new IdpError('too_many_requests', 'a code was sent less than 30 s ago');
      lastSent.set(ctx.binding!, ctx.now);
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      sent.set(id as string, code);
      return { shown: { sent: true }, state: { code } };
    },
  },
  async verify(ctx, response) {
    if (response !== (ctx.challenge as { code?: string } | undefined)?.code) throw new FactorError('invalid_code');
    return eventOf(smsFactor(deps).descriptor, ctx.now, 'sms');
  },
});
const lastSent = new Map<string, number>();

/** A push prompt: in these tests it is only ever acknowledged through the platform. */
const promptFactor: Factor = {
  descriptor: descriptor('prompt', 'user', 2),
  paths: { challenge: 'prompt', manage: 'prompt' },
  challengeView: '<p>Approve on your phone.</p>',
  recognizes: () => false,
  async verify() {
    throw new FactorError('invalid_code');
  },
};

let idp: TestIdp;
let config: oc.Configuration;
let receiver: Receiver;
const clock = new FakeClock();
const api = apiClient(() => idp.url);
const keys = { bank: '', other: '' };
let otherSubscription = '';
let bankSubscription = '';

beforeAll(async () => {
  idp = await startTestIdp(
    'webhooks-mfa-steps',
    'postgres+redis',
    { rateLimit: { loginPerIpPerMinute: 10_000 }, webhooks: { allowHttpLoopback: true, allowPrivateTargets: false, workerIntervalMs: 100 } },
    { clock, factors: (deps) => [questionsFactor, smsFactor(deps), promptFactor] },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['questions', 'sms', 'prompt', 'totp'], reauth_interval_minutes: 0 },
    lockout: { mfa_max_failures: 100 },
  });
  receiver = await startReceiver();
  const orgs: Record<string, string> = {};
  for (const slug of ['bank', 'other']) orgs[slug] = (await api('POST', '/organizations', { slug })).body.organization.id;
  keys.bank = (await idp.container.apiKeys.create('bank', ['idp:write', 'idp:read'], orgs.bank)).key;
  keys.other = (await idp.container.apiKeys.create('other', ['idp:write', 'idp:read'], orgs.other)).key;
  const sub = await api('POST', '/webhooks', { url: receiver.url, events: ['auth.step', 'auth.completed', 'auth.failed'] }, keys.bank);
  receiver.setSecret(sub.body.secret);
  bankSubscription = sub.body.id;
  otherSubscription = (await api('POST', '/webhooks', { url: receiver.url, events: ['auth.step'] }, keys.other)).body.id;
  const on = await api('PATCH', '/organizations/bank/settings', { step_webhooks: { enabled: true, subscription_id: sub.body.id } });
  expect(on.status).toBe(200);
});
afterAll(async () => {
  await receiver.close();
  await idp.stop();
});

/** A user of the bank at the MFA challenge with the credentials named. */
async function atChallenge(label: string, kinds: string[], org = 'bank') {
  const user = await newUser(idp.url, label, { organization: org });
  let phone = '';
  for (const kind of kinds) {
    const row = await idp.container.credentials.insert({
      userId: user.id,
      kind,
      confirmed: true,
      ...(kind === 'phone' ? { name: 'xxx-xxx-1234', secretSealed: idp.container.box.seal('+15555551234') } : {}),
    });
    if (kind === 'phone') phone = row.id;
  }
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  return { user, flow, phone };
}

const poll = (flow: Flow) => flow.post('mfa/step/status');
const step = (r: Received, user: string) => r.json?.type === 'auth.step' && r.json.resource.id === user;
/** The next webhook for the user of `type` that is not one of `seen`. */
const nextFor = (user: string, type: string, seen: Received[] = []) =>
  receiver.next((r) => r.json?.type === type && r.json.resource.id === user && !seen.includes(r));
const answer = (body: unknown, key = keys.bank) => api('POST', '/auth/step', body, key);

describe('questions', () => {
  test('the questions reach the platform; right answers complete the login in the browser; the token is then refused', async () => {
    const { user, flow } = await atChallenge('wh-q-ok', ['questions']);
    const pending = await poll(flow);
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ status: 'pending', method: 'questions' });
    const asked = await nextFor(user.id, 'auth.step');
    expect(asked.verified).toBe(true);
    expect(asked.json.resource).toEqual({ type: 'user', id: user.id });
    expect(asked.json.data).toEqual({
      method: 'questions',
      input: QUESTIONS.map(({ identifier, question }) => ({ identifier, question })),
      token: expect.any(String),
    });
    // Still pending until the platform answers.
    expect((await poll(flow)).body.status).toBe('pending');
    // The token is stored sealed in the delivery queue, and the delivery log does not show it.
    const rows = await idp.container.db.selectFrom('webhookDeliveries').select(['id', 'payload']).where('eventType', '=', 'auth.step').execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(JSON.stringify(r.payload)).not.toContain(asked.json.data.token);
    const log = await api('GET', `/webhooks/${bankSubscription}/deliveries`, undefined, keys.bank);
    const logged = log.body.deliveries.find((d: { id: string }) => d.id === asked.delivery);
    expect(logged).toMatchObject({ event: 'auth.step', payload: null });

    const security = QUESTIONS.map(({ identifier, answer: a }) => ({ identifier, answer: a }));
    const ok = await answer({ token: asked.json.data.token, method: 'questions', security });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ success: true, message: expect.any(String) });
    const completed = await nextFor(user.id, 'auth.completed');
    expect(completed.json.data).toMatchObject({ method: 'questions', status: 'finish' });

    // Concurrent polls: one takes the outcome and finishes the login; the others find the step over.
    const polls = await Promise.all(Array.from({ length: 5 }, () => poll(flow)));
    const done = polls.find((p) => p.body.status === 'success')!;
    expect(polls.filter((p) => p.body.status === 'success')).toHaveLength(1);
    expect(polls.filter((p) => p !== done).map((p) => p.status)).toEqual([400, 400, 400, 400]);
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'kba']));
    // The token was single-use, and the outcome is taken once.
    expectJsonError(await answer({ token: asked.json.data.token, method: 'questions', security }), 404, 'not_found');
    expect((await poll(flow)).status).toBe(400);
  });

  test('wrong answers bring a new step with a new token (the old one is spent); right ones then complete', async () => {
    const { user, flow } = await atChallenge('wh-q-wrong', ['questions']);
    await poll(flow);
    const first = await nextFor(user.id, 'auth.step');
    const wrong = await answer({ token: first.json.data.token, method: 'questions', security: [{ identifier: 'q-pet', answer: 'tom' }] });
    expect(wrong.status).toBe(200);
    const again = await nextFor(user.id, 'auth.step', [first]);
    expect(again.json.data).toMatchObject({ method: 'questions', error: 'invalid_answer', token: expect.any(String) });
    expect(again.json.data.token).not.toBe(first.json.data.token);
    const security = QUESTIONS.map(({ identifier, answer: a }) => ({ identifier, answer: a }));
    expectJsonError(await answer({ token: first.json.data.token, method: 'questions', security }), 404, 'not_found');
    expect((await answer({ token: again.json.data.token, method: 'questions', security })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    expect((await poll(flow)).body.status).toBe('success');
  });

  test("another organisation's key gets 404 and does not use the token up; hostile bodies are 400s that keep it", async () => {
    const { user, flow } = await atChallenge('wh-q-hostile', ['questions']);
    await poll(flow);
    const asked = await nextFor(user.id, 'auth.step');
    const token = asked.json.data.token as string;
    const security = QUESTIONS.map(({ identifier, answer: a }) => ({ identifier, answer: a }));
    expectJsonError(await answer({ token, method: 'questions', security }, keys.other), 404, 'not_found');
    for (const [body, field] of [
      [{ token, method: 'questions', security, extra: 1 }, 'extra'],
      [{ token, method: 'questions', security: { identifier: 'q-pet', answer: 'rex' } }, 'security'],
      [{ token, method: 'questions', security: [{ identifier: 'q-pet', answer: 'x'.repeat(600) }] }, 'security.0.answer'],
      [{ token, method: 'questions', security: [{ identifier: 'q\u0000', answer: 'rex' }] }, 'security.0.identifier'],
      [{ token, method: 'code', security: { identifier: 'x' } }, 'method'],
      [{ token, method: 'sms', security }, 'method'],
      [{ token: "x' or 1=1 --", method: 'questions', security }, 'token'],
      [{ token: 'a'.repeat(500), method: 'questions', security }, 'token'],
      [{ method: 'questions', security }, 'token'],
    ] as const)
      expectJsonError(await answer(body), 400, 'invalid_request', field);
    expectJsonError(await api('POST', '/auth/step', undefined, keys.bank, { body: '{"token":', type: 'application/json' }), 400);
    expectJsonError(await api('POST', '/auth/step', { token, method: 'questions', security }, keys.bank.slice(0, -2) + 'xx'), 401, 'invalid_token');
    // After all that, the token still answers the step.
    expect((await answer({ token, method: 'questions', security })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    expect((await poll(flow)).body.status).toBe('success');
  });

  test('concurrent answers with one token: exactly one is taken; concurrent polls send one step', async () => {
    const { user, flow } = await atChallenge('wh-q-race', ['questions']);
    const polls = await Promise.all(Array.from({ length: 6 }, () => poll(flow)));
    expect(polls.every((p) => p.status === 200 && p.body.status === 'pending')).toBe(true);
    const asked = await nextFor(user.id, 'auth.step');
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.received.filter((r) => step(r, user.id))).toHaveLength(1);
    const security = QUESTIONS.map(({ identifier, answer: a }) => ({ identifier, answer: a }));
    const answers = await Promise.all(Array.from({ length: 10 }, () => answer({ token: asked.json.data.token, method: 'questions', security })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array<number>(9).fill(404)]);
  });
});

describe('codes', () => {
  test('destination choice, a resend refused within 30 s then allowed, a wrong code, the right code', async () => {
    const { user, flow, phone } = await atChallenge('wh-code', ['phone', 'sms']);
    expect((await poll(flow)).body).toMatchObject({ status: 'pending', method: 'code' });
    const choose = await nextFor(user.id, 'auth.step');
    expect(choose.json.data).toEqual({
      method: 'code',
      token: expect.any(String),
      input: [{ type: 'text', mask: 'xxx-xxx-1234', identifier: `sms:${phone}`, label: 'Text message to xxx-xxx-1234' }],
    });
    // Only a destination offered is accepted (and a refused choice keeps the token).
    expectJsonError(
      await answer({ token: choose.json.data.token, method: 'code', security: { identifier: 'sms:someone-else' } }),
      400,
      'invalid_request',
      'security.identifier',
    );
    expect((await answer({ token: choose.json.data.token, method: 'code', security: { identifier: `sms:${phone}` } })).status).toBe(200);
    const ask = await nextFor(user.id, 'auth.step', [choose]);
    expect(ask.json.data).toEqual({
      method: 'code',
      token: expect.any(String),
      showRetry: true,
      input: [{ identifier: `sms:${phone}`, question: 'What is the code sent to xxx-xxx-1234?' }],
    });
    expect(JSON.stringify(ask.json)).not.toContain(sent.get(phone)!);
    const firstCode = sent.get(phone)!;

    // "I did not receive it" within 30 s of the code: refused, and the step can still be answered.
    expectJsonError(await answer({ token: ask.json.data.token, method: 'code', didNotReceiveCode: true }), 429, 'too_many_requests');
    clock.advance(31_000);
    expect((await answer({ token: ask.json.data.token, method: 'code', didNotReceiveCode: true })).status).toBe(200);
    const resent = await nextFor(user.id, 'auth.step', [choose, ask]);
    expect(resent.json.data).toMatchObject({ showRetry: true, input: [{ identifier: `sms:${phone}` }] });
    expect(sent.get(phone)).not.toBe(firstCode);
    expectJsonError(await answer({ token: ask.json.data.token, method: 'code', security: { identifier: `sms:${phone}`, answer: sent.get(phone)! } }), 404);

    // The old code no longer answers: a new step says so.
    const wrongCode = firstCode === sent.get(phone) ? '000000' : firstCode;
    expect((await answer({ token: resent.json.data.token, method: 'code', security: { identifier: `sms:${phone}`, answer: wrongCode } })).status).toBe(200);
    const retry = await nextFor(user.id, 'auth.step', [choose, ask, resent]);
    expect(retry.json.data).toMatchObject({ error: 'invalid_answer', showRetry: true });
    expect((await answer({ token: retry.json.data.token, method: 'code', security: { identifier: `sms:${phone}`, answer: sent.get(phone)! } })).status).toBe(
      200,
    );
    await nextFor(user.id, 'auth.completed');
    const done = await poll(flow);
    expect(done.body.status).toBe('success');
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.amr).toEqual(['pwd', 'sms', 'mfa']);
    expect(claims.acr).toBe('aal2');
  });
});

describe('prompt', () => {
  test("the platform's acknowledgement of a prompt approves the login at AAL1 only", async () => {
    const { user, flow } = await atChallenge('wh-prompt', ['prompt']);
    expect((await poll(flow)).body).toMatchObject({ status: 'pending', method: 'prompt' });
    const asked = await nextFor(user.id, 'auth.step');
    expect(asked.json.data).toEqual({ method: 'prompt', input: [], token: expect.any(String) });
    expectJsonError(
      await answer({ token: asked.json.data.token, method: 'prompt', security: [{ identifier: 'x', answer: 'y' }] }),
      400,
      'invalid_request',
      'security',
    );
    expect((await answer({ token: asked.json.data.token, method: 'prompt' })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    const done = await poll(flow);
    expect(done.body.status).toBe('success');
    const { claims } = await flow.complete(done.body.redirect_to);
    expect(claims.acr).toBe('aal1');
    expectJsonError(await answer({ token: asked.json.data.token, method: 'prompt' }), 404);
  });
});

describe('the browser page', () => {
  test('a form post (no script) gets the "Continue in your app" page with its poller; a post without the CSRF token is refused', async () => {
    const { user, flow } = await atChallenge('wh-page', ['questions']);
    // The token a page of this login carries (the test plug-ins' forms have none to read it from).
    const csrf = idp.container.csrf.token(flow.interactionUrl!.pathname.split('/')[2]!);
    const url = `${flow.interactionUrl!.href}/mfa/step/status`;
    const post = (form: string) =>
      flow.browser.fetch(url, { method: 'POST', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    expect((await post('')).status).toBe(403);
    const waiting = await post(`csrf=${encodeURIComponent(csrf)}`);
    expect(waiting.status).toBe(200);
    const html = await waiting.text();
    expect(html).toContain('Continue in your app');
    expect(html).toContain('src="/assets/mfa-step.js"');
    const script = await fetch(`${idp.url}/assets/mfa-step.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // The page's poll (a JSON post, as the script sends it) finishes the login once the platform answered.
    const asked = await nextFor(user.id, 'auth.step');
    const security = QUESTIONS.map(({ identifier, answer: a }) => ({ identifier, answer: a }));
    expect((await answer({ token: asked.json.data.token, method: 'questions', security })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    const done = await poll(flow);
    expect(done.body.status).toBe('success');
    await flow.complete(done.body.redirect_to);
  });
});

describe('when the organisation does not run steps through webhooks', () => {
  test('the poll is refused, and nothing is sent', async () => {
    const { user, flow } = await atChallenge('wh-off', ['questions'], 'other');
    expectJsonError(await poll(flow), 400, 'invalid_method');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.filter((r) => step(r, user.id))).toEqual([]);
    // Naming another organisation's subscription does not send this organisation's steps there; its own does.
    await api('PATCH', '/organizations/other/settings', { step_webhooks: { enabled: true, subscription_id: bankSubscription } });
    expectJsonError(await poll(flow), 400, 'invalid_method');
    await api('PATCH', '/organizations/other/settings', { step_webhooks: { enabled: true, subscription_id: otherSubscription } });
    expect((await poll(flow)).body.status).toBe('pending');
    await nextFor(user.id, 'auth.step');
  });
});
