/**
 * Runs the factor contract for every method in the registry; a method without a driver here
 * fails the suite, so no plug-in goes untested.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, issueBackupCodes } from '../helpers/mfa.js';
import { awayFromStepBoundary, codeAt, wrongCode } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { describeFactor, type FactorDriver } from './factor.contract.js';
import { otpDriver } from './otp-drivers.js';
import { promptDriver } from './prompt-driver.js';

const ATTEMPTS = 5;
let idp: TestIdp;
let config: oc.Configuration;
let enrolConfig: oc.Configuration;
/** Where the outbox delivery writes the codes the sent-code methods' drivers read. */
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-factor-contract-'));
  idp = await startTestIdp('factor-contract', 'postgres+redis', {
    dataDir,
    rateLimit: { loginPerIpPerMinute: 10_000 },
    mfa: { attemptsPerChallenge: ATTEMPTS, recentAuthSeconds: 300 },
  });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  const enforcing = await registerClient(idp.url, { first_party: true, mfa_policy: { enforce_enrollment: true } });
  enrolConfig = await discover(idp.url, enforcing.client_id, enforcing.client_secret);
  // The account-wide lockout has its own tests; here it must not end the challenges first.
  // The send limits against SMS pumping have their own tests; e-mail codes are allowed here so their contract runs.
  await idp.container.settings.patchGlobal({
    lockout: { mfa_max_failures: 100 },
    mfa: { allowed_methods: [...idp.container.factors.methods] },
    otp: { sends_per_account_per_hour: 1000, sends_per_destination_per_10_minutes: 1000, sends_per_ip_per_10_minutes: 100_000 },
  });
});
afterAll(async () => {
  await prompt.close();
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const fixture = () => ({ idp, config, enrolConfig, attemptsPerChallenge: ATTEMPTS });

/** The last step used per secret: TOTP accepts each step once, so each valid code takes the next free one in the window. */
const usedSteps = new Map<string, number>();

const totp: FactorDriver<string> = {
  method: 'totp',
  enrol: (test, accountId) => enrolTotp(test.container, accountId),
  async valid(secret) {
    for (;;) {
      await awayFromStepBoundary();
      const current = Math.floor(Date.now() / 30_000);
      const step = Math.max(current, (usedSteps.get(secret) ?? current - 2) + 1);
      if (step <= current + 1) {
        usedSteps.set(secret, step);
        return generate({ secret, epoch: step * 30 });
      }
      await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 100));
    }
  },
  // Two steps back is outside the ±1 step window of RFC 6238 §5.2 as the IdP applies it.
  expired: async (_test, _accountId, secret) => {
    await awayFromStepBoundary();
    return codeAt(secret, Date.now(), -2);
  },
  wrong: (secret) => wrongCode(secret),
  fromEnrolment: async (shown) => String(shown.secret),
  fromSelfService: async (shown) => String(shown.secret),
};

const backupCodes: FactorDriver<string[]> = {
  method: 'backup_code',
  enrol: (test, accountId) => issueBackupCodes(test.container, accountId),
  valid: async (codes) => codes.shift()!,
  /** A used code: consumed by a first, successful check. */
  async expired(test, accountId, codes) {
    const code = codes.shift()!;
    await test.container.factors.get('backup_code')!.verify({ accountId, now: test.container.clock.now() }, code);
    return code;
  },
  // Well formed, and never issued (one chance in 2^50 otherwise).
  wrong: async () => '00000-00000',
  fromSelfService: async (shown) => shown.backup_codes as string[],
};

/** A passkey holder: the authenticator, and the creation options of a registration in progress. */
interface PasskeyHolder {
  device: SoftAuthenticator;
  creation?: Record<string, unknown>;
}
const origin = () => new URL(idp.url).origin;
/** Options for a challenge the IdP never issued. */
const unissued = () => ({ challenge: randomBytes(32).toString('base64url'), rpId: 'localhost' });
const BINDING = 'contract';
// What the IdP answered, as the WebAuthn JSON it is.
const asCreation = (shown: Record<string, unknown>) => shown as unknown as PublicKeyCredentialCreationOptionsJSON;
const asRequest = (shown: Record<string, unknown>) => shown as unknown as PublicKeyCredentialRequestOptionsJSON;

const passkey: FactorDriver<PasskeyHolder> = {
  method: 'passkey',
  async enrol(test, accountId) {
    const enrolment = test.container.factors.get('passkey')!.enrolment!;
    const device = new SoftAuthenticator({ origin: origin() });
    const { shown } = await enrolment.begin(accountId, 'contract', 'contract', undefined, BINDING);
    await enrolment.confirm(accountId, { credential: await device.create(asCreation(shown), { origin: origin() }) }, BINDING);
    return { device };
  },
  /** A registration while one is pending, else an assertion for the challenge. */
  async valid(held, challenge) {
    const { creation } = held;
    held.creation = undefined;
    return {
      credential: creation
        ? await held.device.create(asCreation(creation), { origin: origin() })
        : await held.device.get(asRequest(challenge ?? unissued()), { origin: origin(), credentialId: held.device.credentials[0]!.id }),
    };
  },
  /** Signed for another site: WebAuthn binds every answer to the origin (and so defeats a phishing relay). */
  async wrong(held, challenge) {
    const evil = 'https://evil.example';
    const { creation } = held;
    held.creation = undefined;
    return {
      credential: creation
        ? await held.device.create(asCreation(creation), { origin: evil })
        : await held.device.get(asRequest(challenge ?? unissued()), { origin: evil, credentialId: held.device.credentials[0]!.id }),
    };
  },
  /** An answer accepted once, to a challenge of its own: it answers no later challenge. */
  async expired(test, accountId, held) {
    const factor = test.container.factors.get('passkey')!;
    const now = test.container.clock.now();
    const { shown, state } = await factor.challenge!.start({ accountId, now });
    const response = { credential: await held.device.get(asRequest(shown), { origin: origin() }) };
    await factor.verify({ accountId, now, challenge: state }, response);
    return response;
  },
  fromEnrolment: async (shown) => ({ device: new SoftAuthenticator({ origin: origin() }), creation: shown }),
  fromSelfService: async (shown) => ({ device: new SoftAuthenticator({ origin: origin() }), creation: shown }),
};

/** What a user answered, by question text (a challenge shows the text, under identifiers of its own). */
type Answers = Map<string, string>;
const QUESTIONS = DEFAULT_QUESTIONS.slice(0, 3);
/** Answers of this user alone: another user's never match. */
const newChoice = () => ({ answers: QUESTIONS.map((q) => ({ question_id: q.id, answer: `answer ${randomBytes(6).toString('hex')}` })) });
const answersOf = (choice: Record<string, unknown>): Answers => {
  const chosen = choice.answers as { question_id: string; answer: string }[];
  return new Map(chosen.map((a) => [QUESTIONS.find((q) => q.id === a.question_id)!.text, a.answer]));
};
/** An answer to every question the challenge shows (one for no challenge at all, which verifies nothing). */
const respond = (challenge: Record<string, unknown> | undefined, answer: (question: string) => string) => ({
  answers: ((challenge?.questions as { identifier: string; question: string }[] | undefined) ?? [{ identifier: 'AAAAAAAAAAAAAAAA', question: '' }]).map(
    (q) => ({ identifier: q.identifier, answer: answer(q.question) }),
  ),
});

const questions: FactorDriver<Answers> = {
  method: 'questions',
  async enrol(test, accountId) {
    const choice = newChoice();
    await test.container.factors.get('questions')!.selfService!.set!(accountId, choice);
    return answersOf(choice);
  },
  valid: async (held, challenge) => respond(challenge, (q) => held.get(q) ?? 'unknown'),
  wrong: async (_held, challenge) => respond(challenge, () => 'not the answer'),
  /** Right answers to a challenge already answered: they answer no other challenge. */
  async expired(test, accountId, held) {
    const factor = test.container.factors.get('questions')!;
    const now = test.container.clock.now();
    const { shown, state } = await factor.challenge!.start({ accountId, now });
    const response = respond(shown, (q) => held.get(q)!);
    await factor.verify({ accountId, now, challenge: state }, response);
    return response;
  },
  choice: newChoice,
  fromSelfService: async (choice) => answersOf(choice),
};

// The push service the prompt driver's devices subscribe to is started with the suite (top-level await).
const prompt = await promptDriver(() => idp);

const drivers = new Map<string, FactorDriver<any>>([
  [totp.method, totp],
  [backupCodes.method, backupCodes],
  [passkey.method, passkey],
  [questions.method, questions],
  [prompt.driver.method, prompt.driver],
  ...(['sms', 'voice', 'email'] as const).map((channel) => [channel, otpDriver(channel, () => dataDir)] as [string, FactorDriver<any>]),
]);

test('every registered method has a contract driver', () => {
  expect([...idp.container.factors.methods].sort()).toEqual([...drivers.keys()].sort());
});

for (const driver of drivers.values()) describeFactor(fixture, driver);
