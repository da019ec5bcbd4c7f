/**
 * "Try another way": a login that offers several methods keeps each method's challenge to itself.
 * Starting one method, then another, then coming back never completes the step without the proof
 * of the method answered: stale questions, a missing code or a challenge never started are refused,
 * and the login stays at its challenge until a real proof arrives.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep } from '../helpers/mfa-flow.js';
import { lastCodeTo } from '../helpers/otp.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let dataDir: string;
const QUESTIONS = DEFAULT_QUESTIONS.slice(0, 3);
const answerTo = new Map(QUESTIONS.map((q, i) => [q.text, `answer number ${i} for switching`]));

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-switching-'));
  idp = await startTestIdp('mfa-method-switching', 'postgres+redis', { dataDir, rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', allowed_methods: ['sms', 'questions'] }, lockout: { mfa_max_failures: 100 } });
});
afterAll(async () => {
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test('questions, then a code, then questions again: only a real proof of the method answered completes the step', async () => {
  const phone = '+16502530001';
  const user = await newUser(idp.url, 'switching', { phone, phone_verified: true });
  await idp.container.factors.get('questions')!.selfService!.set!(user.id, {
    answers: QUESTIONS.map((q) => ({ question_id: q.id, answer: answerTo.get(q.text)! })),
  });
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body).toMatchObject({ status: 'mfa_required', methods: expect.arrayContaining(['sms', 'questions']) });
  const destination = (login.body.destinations as { id: string; channel: string }[]).find((d) => d.channel === 'sms')!;

  // Nothing started yet: an answer to either method is refused before any check.
  expect((await flow.post('mfa/questions', { answers: [{ identifier: 'AAAAAAAAAAAAAAAA', answer: 'x' }] })).body.error).toBe('invalid_step');
  expect((await flow.post('mfa/otp/verify', { code: '123456' })).body.error).toBe('invalid_step');

  const first = await flow.post('mfa/questions/begin');
  expect(first.status).toBe(200);
  const sent = await flow.post('mfa/otp/send', { channel: 'sms', destination_id: destination.id });
  expect(sent.body.status).toBe('code_sent');
  const { code } = await lastCodeTo(dataDir, phone);
  const second = await flow.post('mfa/questions/begin');
  const staleIds = (first.body.questions as { identifier: string; question: string }[]).map((q) => ({
    identifier: q.identifier,
    answer: answerTo.get(q.question)!,
  }));
  expect((second.body.questions as { identifier: string }[]).map((q) => q.identifier)).not.toEqual(staleIds.map((a) => a.identifier));

  // Right answers under the first start's identifiers: refused (and the second start is spent with them).
  expect((await flow.post('mfa/questions', { answers: staleIds })).status).toBe(401);
  // No code at all, or a code that is not the one sent: refused.
  expect((await flow.post('mfa/otp/verify', {})).status).toBe(400);
  expect((await flow.post('mfa/otp/verify', { code: code === '000000' ? '000001' : '000000' })).status).toBe(401);
  // The spent questions challenge answers nothing, even with right answers to the second start.
  const rightToSecond = (second.body.questions as { identifier: string; question: string }[]).map((q) => ({
    identifier: q.identifier,
    answer: answerTo.get(q.question)!,
  }));
  expect((await flow.post('mfa/questions', { answers: rightToSecond })).body.error).toBe('invalid_step');
  expect((await flow.details()).body.step).toBe('mfa');

  // Back to the code: the one sent still proves the phone, and only it completes the step.
  const done = await flow.post('mfa/otp/verify', { code });
  expect(done.body.status).toBe('success');
  const { claims } = await flow.complete(done.body.redirect_to);
  expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'sms', 'otp']));
  expect(claims.amr).not.toContain('kba');
});
