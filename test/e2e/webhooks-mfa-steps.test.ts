/**
 * The exchange of MFA steps run through an organisation's own app: the login's challenge reaches
 * the platform as a signed `auth.step` webhook, the platform answers with its API key at
 * POST /api/v1/auth/step, the result comes back by webhook, and the browser's poll finishes the
 * login in its own request. What the exchange itself guarantees, shown with security questions:
 * the token sealed at rest and single-use, hostile bodies refused without using it, another
 * organisation's key answered as for an unknown token, races. Each factor's own steps, and the
 * sign-in page, are in webhooks-mfa-steps-real.test.ts.
 */
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { startReceiver, type Received, type Receiver } from '../helpers/webhook-receiver.js';

const [Q1, Q2, Q3] = DEFAULT_QUESTIONS as [(typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number]];
const CHOSEN = new Map([
  [Q1.text, 'Rex the Dog'],
  [Q2.text, 'Saint-Exupery School'],
  [Q3.text, 'Baker Street'],
]);
/** The right answers to the questions a step asked. */
const rightAnswers = (asked: Received) =>
  (asked.json.data.input as { identifier: string; question: string }[]).map((q) => ({ identifier: q.identifier, answer: CHOSEN.get(q.question)! }));

let idp: TestIdp;
let config: oc.Configuration;
let receiver: Receiver;
const api = apiClient(() => idp.url);
const keys = { bank: '', other: '' };
let otherSubscription = '';
let bankSubscription = '';

beforeAll(async () => {
  idp = await startTestIdp('webhooks-mfa-steps', 'postgres+redis', {
    rateLimit: { loginPerIpPerMinute: 10_000 },
    webhooks: { allowHttpLoopback: true, allowPrivateTargets: false, workerIntervalMs: 100 },
  });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['questions', 'totp'], reauth_interval_minutes: 0 },
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

/** A user of the organisation, with security questions set, at the MFA challenge. */
async function atChallenge(label: string, org = 'bank') {
  const user = await newUser(idp.url, label, { organization: org });
  await idp.container.factors.get('questions')!.selfService!.set!(user.id, {
    answers: [Q1, Q2, Q3].map((q) => ({ question_id: q.id, answer: CHOSEN.get(q.text)! })),
  });
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  return { user, flow };
}

const poll = (flow: Flow) => flow.post('mfa/step/status');
const step = (r: Received, user: string) => r.json?.type === 'auth.step' && r.json.resource.id === user;
/** The next webhook for the user of `type` that is not one of `seen`. */
const nextFor = (user: string, type: string, seen: Received[] = []) =>
  receiver.next((r) => r.json?.type === type && r.json.resource.id === user && !seen.includes(r));
const answer = (body: unknown, key = keys.bank) => api('POST', '/auth/step', body, key);

describe('questions', () => {
  test('the questions reach the platform; right answers complete the login in the browser; the token is then refused', async () => {
    const { user, flow } = await atChallenge('wh-q-ok');
    const pending = await poll(flow);
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({ status: 'pending', method: 'questions' });
    const asked = await nextFor(user.id, 'auth.step');
    expect(asked.verified).toBe(true);
    expect(asked.json.resource).toEqual({ type: 'user', id: user.id });
    expect(asked.json.data).toEqual({
      method: 'questions',
      input: [
        { identifier: expect.any(String), question: expect.any(String) },
        { identifier: expect.any(String), question: expect.any(String) },
      ],
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

    const security = rightAnswers(asked);
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
    const { user, flow } = await atChallenge('wh-q-wrong');
    await poll(flow);
    const first = await nextFor(user.id, 'auth.step');
    const wrong = await answer({ token: first.json.data.token, method: 'questions', security: [{ identifier: 'q-pet', answer: 'tom' }] });
    expect(wrong.status).toBe(200);
    const again = await nextFor(user.id, 'auth.step', [first]);
    expect(again.json.data).toMatchObject({ method: 'questions', error: 'invalid_answer', token: expect.any(String) });
    expect(again.json.data.token).not.toBe(first.json.data.token);
    const security = rightAnswers(again);
    expectJsonError(await answer({ token: first.json.data.token, method: 'questions', security }), 404, 'not_found');
    expect((await answer({ token: again.json.data.token, method: 'questions', security })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    expect((await poll(flow)).body.status).toBe('success');
  });

  test("another organisation's key gets 404 and does not use the token up; hostile bodies are 400s that keep it", async () => {
    const { user, flow } = await atChallenge('wh-q-hostile');
    await poll(flow);
    const asked = await nextFor(user.id, 'auth.step');
    const token = asked.json.data.token as string;
    const security = rightAnswers(asked);
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
    const { user, flow } = await atChallenge('wh-q-race');
    const polls = await Promise.all(Array.from({ length: 6 }, () => poll(flow)));
    expect(polls.every((p) => p.status === 200 && p.body.status === 'pending')).toBe(true);
    const asked = await nextFor(user.id, 'auth.step');
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.received.filter((r) => step(r, user.id))).toHaveLength(1);
    const security = rightAnswers(asked);
    const answers = await Promise.all(Array.from({ length: 10 }, () => answer({ token: asked.json.data.token, method: 'questions', security })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array<number>(9).fill(404)]);
  });
});

describe('the browser page', () => {
  test('a form post (no script) gets the "Continue in your app" page with its poller; a post without the CSRF token is refused', async () => {
    const { user, flow } = await atChallenge('wh-page');
    // The token a page of this login carries.
    const csrf = idp.container.csrf.token(flow.interactionUrl!.pathname.split('/')[2]!);
    const url = `${flow.interactionUrl!.href}/mfa/step/status`;
    const post = (form: string) =>
      flow.browser.fetch(url, { method: 'POST', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    expect((await post('')).status).toBe(403);
    const waiting = await post(`csrf=${encodeURIComponent(csrf)}`);
    // Post/Redirect/Get: a 303 to the step page, which the browser then shows.
    expect(waiting.status).toBe(303);
    expect(new URL(waiting.headers.get('location')!, flow.interactionUrl).href).toBe(flow.interactionUrl!.href);
    const html = await (await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('Continue in your app');
    expect(html).toContain('src="/assets/mfa-step.js"');
    const script = await fetch(`${idp.url}/assets/mfa-step.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // The page's poll (a JSON post, as the script sends it) finishes the login once the platform answered.
    const asked = await nextFor(user.id, 'auth.step');
    const security = rightAnswers(asked);
    expect((await answer({ token: asked.json.data.token, method: 'questions', security })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    const done = await poll(flow);
    expect(done.body.status).toBe('success');
    await flow.complete(done.body.redirect_to);
  });
});

describe('when the organisation does not run steps through webhooks', () => {
  test('the poll is refused, and nothing is sent', async () => {
    const { user, flow } = await atChallenge('wh-off', 'other');
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
