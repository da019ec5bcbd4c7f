/**
 * MFA steps run through an organisation's app with the server's own factors (no test plug-ins):
 * real security questions (the same questions until a right answer), real one-time codes to the
 * user's verified destinations (the code read from the outbox, the resend interval on a fake
 * clock, sms/voice/email chosen by the destination), the real attempt cap ending the login, an
 * acknowledged prompt at AAL1, and the sign-in page leading the browser to "Continue in your app".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, PASSWORD, beginAuth, newUser, pageAfterPost, passwordStep, type Flow } from '../helpers/mfa-flow.js';
import { codesTo, lastCodeTo, otherCode } from '../helpers/otp.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { startReceiver, type Received, type Receiver } from '../helpers/webhook-receiver.js';

let idp: TestIdp;
let config: oc.Configuration;
let receiver: Receiver;
let dataDir: string;
const clock = new FakeClock();
const api = apiClient(() => idp.url);
let bankKey = '';
/** The login's attempt cap (`mfa.attemptsPerChallenge`). */
const CAP = 3;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-steps-'));
  idp = await startTestIdp(
    'webhooks-mfa-steps-real',
    'postgres+redis',
    {
      dataDir,
      rateLimit: { loginPerIpPerMinute: 10_000 },
      mfa: { attemptsPerChallenge: CAP, recentAuthSeconds: 300 },
      webhooks: { allowHttpLoopback: true, allowPrivateTargets: false, workerIntervalMs: 100 },
    },
    { clock },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['questions', 'sms', 'voice', 'email', 'prompt', 'totp'], reauth_interval_minutes: 0 },
    lockout: { mfa_max_failures: 100 },
    otp: { sends_per_account_per_hour: 1000, sends_per_destination_per_10_minutes: 1000, sends_per_ip_per_10_minutes: 100_000 },
  });
  receiver = await startReceiver();
  const org = (await api('POST', '/organizations', { slug: 'bank' })).body.organization.id;
  await api('POST', '/organizations', { slug: 'plain' });
  bankKey = (await idp.container.apiKeys.create('bank', ['idp:write', 'idp:read'], org)).key;
  const sub = await api('POST', '/webhooks', { url: receiver.url, events: ['auth.step', 'auth.completed', 'auth.failed'] }, bankKey);
  receiver.setSecret(sub.body.secret);
  expect((await api('PATCH', '/organizations/bank/settings', { step_webhooks: { enabled: true, subscription_id: sub.body.id } })).status).toBe(200);
});
afterAll(async () => {
  await receiver.close();
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});
afterEach(() => clock.reset());

const [Q1, Q2, Q3] = DEFAULT_QUESTIONS as [(typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number]];
const CHOSEN = new Map([
  [Q1.text, 'Rex the Dog'],
  [Q2.text, 'Saint-Exupery School'],
  [Q3.text, 'Baker Street'],
]);

let seq = 0;
/** A user of `org` with the factors named, set up through the real factors and the admin API. */
async function userWith(label: string, factors: { questions?: boolean; phone?: boolean; email?: boolean; prompt?: boolean }, org = 'bank') {
  const n = ++seq;
  const phone = `+1650254${String(1000 + n)}`;
  const email = `${label}-${n}@example.test`;
  const user = await newUser(idp.url, label, {
    organization: org,
    ...(factors.phone ? { phone, phone_verified: true } : {}),
    ...(factors.email ? { email, email_verified: true } : {}),
  });
  if (factors.questions)
    await idp.container.factors.get('questions')!.selfService!.set!(user.id, {
      answers: [Q1, Q2, Q3].map((q) => ({ question_id: q.id, answer: CHOSEN.get(q.text)! })),
    });
  // A registered prompt device: the platform's acknowledgement never uses its key.
  if (factors.prompt) await idp.container.credentials.insert({ userId: user.id, kind: 'prompt', confirmed: true });
  return { ...user, phone, email };
}

async function atChallenge(user: { username: string }) {
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  return flow;
}

const poll = (flow: Flow) => flow.post('mfa/step/status');
const answer = (body: unknown) => api('POST', '/auth/step', body, bankKey);
/** The next webhook of `type` for the user, not one of `seen`. */
const nextFor = (user: string, type: string, seen: Received[] = []) =>
  receiver.next((r) => r.json?.type === type && r.json.resource.id === user && !seen.includes(r));
const answering = (input: { identifier: string; question: string }[], spell: (a: string) => string = (a) => a) =>
  input.map((q) => ({ identifier: q.identifier, answer: spell(CHOSEN.get(q.question) ?? 'unknown') }));

async function finished(flow: Flow) {
  const done = await poll(flow);
  expect(done.body.status).toBe('success');
  return (await flow.complete(done.body.redirect_to)).claims;
}

describe('questions', () => {
  test('the real questions reach the platform; a wrong answer asks the same questions again; right answers sign in at AAL1', async () => {
    const user = await userWith('rq', { questions: true });
    const flow = await atChallenge(user);
    expect((await poll(flow)).body).toMatchObject({ status: 'pending', method: 'questions' });
    const first = await nextFor(user.id, 'auth.step');
    const asked = first.json.data.input as { identifier: string; question: string }[];
    expect(asked).toHaveLength(2);
    for (const q of asked) expect(CHOSEN.has(q.question)).toBe(true);

    // What the questions factor would refuse as malformed is a 400 here, and the token still answers.
    const token = first.json.data.token as string;
    const [a, b] = answering(asked);
    for (const [security, field] of [
      [[{ ...a, answer: 'x'.repeat(257) }, b], 'security.0.answer'],
      [[a, { ...b, identifier: 'i'.repeat(65) }], 'security.1.identifier'],
      [Array.from({ length: 11 }, () => a), 'security'],
    ] as const)
      expectJsonError(await answer({ token, method: 'questions', security }), 400, 'invalid_request', field);
    expect((await answer({ token, method: 'questions', security: answering(asked, (x) => `${x} not`) })).status).toBe(200);
    const again = await nextFor(user.id, 'auth.step', [first]);
    expect(again.json.data).toMatchObject({ method: 'questions', error: 'invalid_answer' });
    const reasked = again.json.data.input as { identifier: string; question: string }[];
    // The same questions (under new identifiers): starting over never shows others.
    expect(reasked.map((q) => q.question).sort()).toEqual(asked.map((q) => q.question).sort());
    // The old identifiers no longer answer: the right answers under them are still wrong.
    expect((await answer({ token: again.json.data.token, method: 'questions', security: answering(asked) })).status).toBe(200);
    const third = await nextFor(user.id, 'auth.step', [first, again]);
    expect(third.json.data.error).toBe('invalid_answer');

    expect((await answer({ token: third.json.data.token, method: 'questions', security: answering(third.json.data.input) })).status).toBe(200);
    expect((await nextFor(user.id, 'auth.completed')).json.data).toMatchObject({ method: 'questions', status: 'finish' });
    const claims = await finished(flow);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'kba']));
    expect(claims.acr).toBe('aal1');
  });
});

describe('codes', () => {
  test('the real destinations with their masks; an SMS code from the outbox; a resend refused before 30 s, allowed after', async () => {
    const user = await userWith('rc', { phone: true, email: true });
    const [phoneRow] = await idp.container.credentials.listActive(user.id, 'phone');
    const [emailRow] = await idp.container.credentials.listActive(user.id, 'email');
    const flow = await atChallenge(user);
    expect((await poll(flow)).body).toMatchObject({ status: 'pending', method: 'code' });
    const choose = await nextFor(user.id, 'auth.step');
    expect(phoneRow!.name).toMatch(/^x.*\d{4}$/);
    expect(choose.json.data.input).toEqual(
      expect.arrayContaining([
        { type: 'text', mask: phoneRow!.name, identifier: `sms:${phoneRow!.id}`, label: `Text message to ${phoneRow!.name}` },
        { type: 'voice', mask: phoneRow!.name, identifier: `voice:${phoneRow!.id}`, label: `Voice call to ${phoneRow!.name}` },
        { type: 'email', mask: emailRow!.name, identifier: `email:${emailRow!.id}`, label: `Email to ${emailRow!.name}` },
      ]),
    );
    expect(choose.json.data.input).toHaveLength(3);
    // Neither the number nor the address reaches the platform.
    expect(JSON.stringify(choose.json)).not.toContain(user.phone.slice(-7));
    expect(JSON.stringify(choose.json)).not.toContain(user.email);

    expect((await answer({ token: choose.json.data.token, method: 'code', security: { identifier: `sms:${phoneRow!.id}` } })).status).toBe(200);
    const ask = await nextFor(user.id, 'auth.step', [choose]);
    expect(ask.json.data).toMatchObject({
      showRetry: true,
      input: [{ identifier: `sms:${phoneRow!.id}`, question: `What is the code sent to ${phoneRow!.name}?` }],
    });
    const first = await lastCodeTo(dataDir, user.phone);
    expect(first.channel).toBe('sms');
    expect(JSON.stringify(ask.json)).not.toContain(first.code);

    expectJsonError(await answer({ token: ask.json.data.token, method: 'code', didNotReceiveCode: true }), 429, 'resend_too_soon');
    expect(await codesTo(dataDir, user.phone)).toHaveLength(1);
    clock.advance(31_000);
    expect((await answer({ token: ask.json.data.token, method: 'code', didNotReceiveCode: true })).status).toBe(200);
    const resent = await nextFor(user.id, 'auth.step', [choose, ask]);
    expect(resent.json.data).toMatchObject({ showRetry: true, input: [{ identifier: `sms:${phoneRow!.id}` }] });
    const second = await lastCodeTo(dataDir, user.phone);
    expect(await codesTo(dataDir, user.phone)).toHaveLength(2);

    // The first code was replaced by the second.
    const stale = first.code === second.code ? otherCode(second.code) : first.code;
    expect((await answer({ token: resent.json.data.token, method: 'code', security: { identifier: `sms:${phoneRow!.id}`, answer: stale } })).status).toBe(200);
    const retry = await nextFor(user.id, 'auth.step', [choose, ask, resent]);
    expect(retry.json.data).toMatchObject({ error: 'invalid_answer', showRetry: true });
    expect((await answer({ token: retry.json.data.token, method: 'code', security: { identifier: `sms:${phoneRow!.id}`, answer: second.code } })).status).toBe(
      200,
    );
    expect((await nextFor(user.id, 'auth.completed')).json.data).toMatchObject({ method: 'code', status: 'finish' });
    const claims = await finished(flow);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'sms']));
    expect(claims.acr).toBe('aal2');
  });

  test('an e-mail destination sends an e-mail code, which signs in at AAL1 only', async () => {
    const user = await userWith('re', { phone: true, email: true });
    const [emailRow] = await idp.container.credentials.listActive(user.id, 'email');
    const flow = await atChallenge(user);
    await poll(flow);
    const choose = await nextFor(user.id, 'auth.step');
    expect((await answer({ token: choose.json.data.token, method: 'code', security: { identifier: `email:${emailRow!.id}` } })).status).toBe(200);
    const ask = await nextFor(user.id, 'auth.step', [choose]);
    expect(ask.json.data.input).toEqual([{ identifier: `email:${emailRow!.id}`, question: `What is the code sent to ${emailRow!.name}?` }]);
    const { code, channel } = await lastCodeTo(dataDir, user.email);
    expect(channel).toBe('email');
    expect(await codesTo(dataDir, user.phone)).toHaveLength(0);
    expect((await answer({ token: ask.json.data.token, method: 'code', security: { identifier: `email:${emailRow!.id}`, answer: code } })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    expect((await finished(flow)).acr).toBe('aal1');
  });

  test('wrong codes up to the attempt cap end the login: auth.failed, and the browser is told', async () => {
    const user = await userWith('rx', { phone: true });
    const [phoneRow] = await idp.container.credentials.listActive(user.id, 'phone');
    const flow = await atChallenge(user);
    await poll(flow);
    const seen: Received[] = [await nextFor(user.id, 'auth.step')];
    expect((await answer({ token: seen[0]!.json.data.token, method: 'code', security: { identifier: `voice:${phoneRow!.id}` } })).status).toBe(200);
    seen.push(await nextFor(user.id, 'auth.step', seen));
    const sent = await lastCodeTo(dataDir, user.phone);
    expect(sent.channel).toBe('voice');
    for (let i = 1; i < CAP; i++) {
      const token = seen[seen.length - 1]!.json.data.token;
      expect((await answer({ token, method: 'code', security: { identifier: `voice:${phoneRow!.id}`, answer: otherCode(sent.code) } })).status).toBe(200);
      const next = await nextFor(user.id, 'auth.step', seen);
      expect(next.json.data.error).toBe('invalid_answer');
      seen.push(next);
    }
    const last = seen[seen.length - 1]!.json.data.token;
    expect((await answer({ token: last, method: 'code', security: { identifier: `voice:${phoneRow!.id}`, answer: otherCode(sent.code) } })).status).toBe(200);
    expect((await nextFor(user.id, 'auth.failed')).json.data).toEqual({ method: 'code', reason: 'too_many_attempts' });
    expectJsonError(await poll(flow), 429, 'too_many_attempts');
    // Even the right code no longer answers: the step is over.
    expectJsonError(await answer({ token: last, method: 'code', security: { identifier: `voice:${phoneRow!.id}`, answer: sent.code } }), 404);
  });
});

describe('prompt', () => {
  test("the platform's acknowledgement of the real prompt factor signs in at AAL1", async () => {
    const user = await userWith('rp', { prompt: true });
    const flow = await atChallenge(user);
    expect((await poll(flow)).body).toMatchObject({ status: 'pending', method: 'prompt' });
    const asked = await nextFor(user.id, 'auth.step');
    expect(asked.json.data).toEqual({ method: 'prompt', input: [], token: expect.any(String) });
    expect((await answer({ token: asked.json.data.token, method: 'prompt' })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    expect((await finished(flow)).acr).toBe('aal1');
  });
});

describe('the sign-in page', () => {
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const form = (flow: Flow, url: string, body: Record<string, string>) =>
    flow.browser.fetch(url, {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });

  test('a browser login of an organisation that runs steps in its app reaches "Continue in your app"; without script the button moves it on', async () => {
    const user = await userWith('rh', { questions: true });
    const flow = await beginAuth(config);
    const login = flow.interactionUrl!.href;
    const csrf = csrfOf(await (await flow.browser.fetch(login, { headers: { accept: 'text/html' } })).text())!;
    const afterPassword = await form(flow, `${login}/login`, { csrf, username: user.username, password: PASSWORD });
    const html = await pageAfterPost(flow, afterPassword);
    expect(html).toContain('Continue in your app');
    expect(html).toContain(`action="/interaction/${flow.interactionUrl!.pathname.split('/')[2]}/mfa/step/status"`);
    expect(html).toContain('src="/assets/mfa-step.js"');
    // The page reloaded says the same; JSON still lists the methods, as documented.
    expect(await (await flow.browser.fetch(login, { headers: { accept: 'text/html' } })).text()).toContain('Continue in your app');
    expect((await flow.details()).body).toMatchObject({ step: 'mfa', methods: ['questions'] });

    // No script: the page's own button (a form post) sends the step and shows the page again, then finishes the login.
    const waiting = await form(flow, `${login}/mfa/step/status`, { csrf: csrfOf(html)! });
    expect(await pageAfterPost(flow, waiting)).toContain('Continue in your app');
    const asked = await nextFor(user.id, 'auth.step');
    expect((await answer({ token: asked.json.data.token, method: 'questions', security: answering(asked.json.data.input) })).status).toBe(200);
    await nextFor(user.id, 'auth.completed');
    const done = await form(flow, `${login}/mfa/step/status`, { csrf: csrfOf(html)! });
    expect(done.status).toBe(303);
    const claims = (await flow.complete(done.headers.get('location')!)).claims;
    expect(claims.acr).toBe('aal1');
  });

  test('an organisation that does not run steps in its app shows the usual challenge page', async () => {
    const user = await userWith('rn', { questions: true }, 'plain');
    const flow = await beginAuth(config);
    const login = flow.interactionUrl!.href;
    const csrf = csrfOf(await (await flow.browser.fetch(login, { headers: { accept: 'text/html' } })).text())!;
    const html = await pageAfterPost(flow, await form(flow, `${login}/login`, { csrf, username: user.username, password: PASSWORD }));
    expect(html).toContain('Two-step verification');
    expect(html).not.toContain('Continue in your app');
  });
});
