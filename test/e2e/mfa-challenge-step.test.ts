/**
 * The challenge step a factor plug-in may declare (a response that answers a challenge the server
 * issued, as WebAuthn's does): started by POST /interaction/{uid}/mfa/{method}/begin, its state kept
 * server-side, answered once, right or wrong, and only the latest one. The method here is a test
 * plug-in registered through the container's extension point: its response must echo the nonce of the
 * challenge, so the tests see exactly which state reached `verify`.
 */
import { randomUUID } from 'node:crypto';
import { FactorError, eventOf, type Factor } from '../../src/authn/factor.js';
import type { FactorDescriptor } from '../../src/policy/types.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const descriptor: FactorDescriptor = {
  method: 'prompt',
  amr: ['user'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  enrollableInLogin: false,
  recovery: false,
};

/** Answers a challenge by echoing its nonce; state the server kept is the only thing it checks against. */
const echoFactor: Factor = {
  descriptor,
  paths: { challenge: 'prompt', manage: 'prompt' },
  challengeView: '<p>Approve the sign-in on your phone.</p>',
  recognizes: () => false,
  challenge: {
    async start() {
      const nonce = randomUUID();
      return { shown: { nonce }, state: { nonce } };
    },
  },
  async verify(ctx, response) {
    const expected = (ctx.challenge as { nonce?: unknown } | undefined)?.nonce;
    if (typeof expected !== 'string' || response !== expected) throw new FactorError('invalid_code');
    return eventOf(descriptor, ctx.now, 'echo');
  },
};

let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('mfa-challenge-step', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { factors: () => [echoFactor] });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 }, lockout: { mfa_max_failures: 100 } });
});
afterAll(() => idp.stop());

async function atChallenge(label: string) {
  const user = await newUser(idp.url, label);
  await idp.container.credentials.insert({ userId: user.id, kind: 'prompt', confirmed: true });
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['prompt'] });
  return flow;
}

const begin = async (flow: Awaited<ReturnType<typeof atChallenge>>) => {
  const res = await flow.post('mfa/prompt/begin');
  expect(res.status).toBe(200);
  return res.body.nonce as string;
};

test("begin → the answer to that challenge ends the login with the method's amr", async () => {
  const flow = await atChallenge('challenge-ok');
  const res = await flow.post('mfa/prompt/finish', { code: await begin(flow) });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.amr).toEqual(['pwd', 'user', 'mfa']);
});

test('an answer with no challenge started is refused before any check', async () => {
  const flow = await atChallenge('challenge-none');
  const res = await flow.post('mfa/prompt/finish', { code: 'anything' });
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid_step');
});

test('a challenge is answered once: after a wrong answer, its right answer is refused too', async () => {
  const flow = await atChallenge('challenge-once');
  const nonce = await begin(flow);
  expect((await flow.post('mfa/prompt/finish', { code: 'wrong' })).status).toBe(401);
  const replay = await flow.post('mfa/prompt/finish', { code: nonce });
  expect(replay.status).toBe(400);
  expect(replay.body.error).toBe('invalid_step');
  // A new challenge can still be answered.
  expect((await flow.post('mfa/prompt/finish', { code: await begin(flow) })).body.status).toBe('success');
});

test('a new start replaces the earlier challenge: only the latest can be answered', async () => {
  const flow = await atChallenge('challenge-latest');
  const first = await begin(flow);
  const second = await begin(flow);
  expect((await flow.post('mfa/prompt/finish', { code: first })).status).toBe(401);
  const flow2 = await atChallenge('challenge-latest-2');
  await begin(flow2);
  const latest = await begin(flow2);
  expect(second).not.toBe(latest);
  expect((await flow2.post('mfa/prompt/finish', { code: latest })).body.status).toBe('success');
});

test('twenty concurrent answers of one challenge: exactly one is checked', async () => {
  const flow = await atChallenge('challenge-race');
  const nonce = await begin(flow);
  const answers = await Promise.all(Array.from({ length: 20 }, () => flow.post('mfa/prompt/finish', { code: nonce })));
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses.filter((s) => s === 200)).toHaveLength(1);
  expect(statuses.filter((s) => s !== 200 && s !== 400)).toEqual([]);
});

test("another login's challenge does not answer this one", async () => {
  const mine = await atChallenge('challenge-mine');
  const other = await atChallenge('challenge-other');
  await begin(mine);
  const theirs = await begin(other);
  expect((await mine.post('mfa/prompt/finish', { code: theirs })).status).toBe(401);
});

test('a method without a challenge step has no begin route; begin outside the mfa stage is refused', async () => {
  const flow = await atChallenge('challenge-routes');
  expect((await flow.post('mfa/totp/begin')).status).toBe(404);
  const fresh = await passwordStep(config, 'nobody-here', 'x'.repeat(12));
  expect(fresh.login.status).toBe(401);
  const early = await fresh.flow.post('mfa/prompt/begin');
  expect(early.status).toBe(400);
  expect(early.body.error).toBe('invalid_step');
});
