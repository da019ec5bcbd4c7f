/**
 * One-time codes by SMS, voice and e-mail inside a login, through the real server: the challenge
 * lists the account's verified destinations, `otp/send` sends a code there (read back from the
 * outbox delivery), `otp/verify` answers it. Expiry on a fake clock, reuse, the resend interval, a
 * newer code voiding the older, five tries per code, concurrent right answers, another login's code,
 * the send limits, an unknown destination answered alike, nothing secret in the log, and the amr
 * and assurance each channel earns.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/logger.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, PASSWORD, newUser, passwordStep, type Flow, pageAfterPost } from '../helpers/mfa-flow.js';
import { codesTo, lastCodeTo, otherCode, outbox } from '../helpers/otp.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(chunk.toString());
    done();
  },
});

let idp: TestIdp;
let config: oc.Configuration;
let dataDir: string;

const HIGH_LIMITS = { sends_per_account_per_hour: 1000, sends_per_destination_per_10_minutes: 1000, sends_per_ip_per_10_minutes: 100_000 };

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-otp-'));
  idp = await startTestIdp(
    'otp-login',
    'postgres+redis',
    { dataDir, rateLimit: { loginPerIpPerMinute: 10_000 }, mfa: { attemptsPerChallenge: 50, recentAuthSeconds: 300 } },
    { clock, logger: createLogger('info', sink) },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email'] },
    lockout: { mfa_max_failures: 100 },
    otp: HIGH_LIMITS,
  });
});
afterAll(async () => {
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});
afterEach(async () => {
  clock.reset();
  await idp.container.settings.patchGlobal({ otp: HIGH_LIMITS });
});

let seq = 0;
/** A user created with a verified phone (and, when asked, a verified address), both vouched for by the admin API. */
async function userWith(label: string, opts: { phone?: boolean; email?: boolean } = { phone: true }) {
  const n = ++seq;
  const phone = `+1650253${String(1000 + n)}`;
  const email = `${label}-${n}@example.test`;
  const user = await newUser(idp.url, label, {
    ...(opts.phone ? { phone, phone_verified: true } : {}),
    ...(opts.email ? { email, email_verified: true } : {}),
  });
  return { ...user, phone, email };
}

/** Password given: the login waits at the challenge, with the destinations listed. */
async function atChallenge(user: { username: string }, params?: Record<string, string>) {
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, params ? { params } : {});
  expect(login.status).toBe(200);
  expect(login.body.status).toBe('mfa_required');
  return { flow, body: login.body as { methods: string[]; destinations: { id: string; channel: string; mask: string }[] } };
}

const send = (flow: Flow, channel: string, destinationId: string, extra: Record<string, unknown> = {}) =>
  flow.post('mfa/otp/send', { channel, destination_id: destinationId, ...extra });
const answer = (flow: Flow, code: string) => flow.post('mfa/otp/verify', { code });

async function sentCode(flow: Flow, channel: string, destinationId: string, to: string) {
  const before = (await codesTo(dataDir, to)).length;
  const res = await send(flow, channel, destinationId);
  expect(res.status).toBe(200);
  const sent = await codesTo(dataDir, to);
  expect(sent).toHaveLength(before + 1);
  return sent[sent.length - 1]!;
}

test('SMS: the challenge lists the phone for SMS and voice, a code is sent there and ends the login with amr sms + otp', async () => {
  const user = await userWith('otp-sms');
  const { flow, body } = await atChallenge(user);
  expect(body.methods).toEqual(expect.arrayContaining(['sms', 'voice']));
  const phoneId = body.destinations[0]!.id;
  expect(body.destinations).toEqual([
    { id: phoneId, channel: 'sms', mask: `xxx-xxx-${user.phone.slice(-4)}` },
    { id: phoneId, channel: 'voice', mask: `xxx-xxx-${user.phone.slice(-4)}` },
  ]);
  const res = await send(flow, 'sms', phoneId);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'code_sent', mask: `xxx-xxx-${user.phone.slice(-4)}`, retry_after: 30, expires_in: 300 });
  const message = await lastCodeTo(dataDir, user.phone);
  expect(message).toMatchObject({ channel: 'sms', purpose: 'sign_in', to: user.phone });
  expect(message.code).toMatch(/^[0-9]{6}$/);
  const ok = await answer(flow, message.code);
  expect(ok.status).toBe(200);
  expect(ok.body.status).toBe('success');
  const { claims } = await flow.complete(ok.body.redirect_to);
  expect(claims.amr).toEqual(['pwd', 'sms', 'otp', 'mfa']);
  expect(claims.acr).toBe('aal2');
});

test('voice: the code goes out as a call (channel voice) and earns amr tel + otp', async () => {
  const user = await userWith('otp-voice');
  const { flow, body } = await atChallenge(user);
  const message = await sentCode(flow, 'voice', body.destinations[0]!.id, user.phone);
  expect(message).toMatchObject({ channel: 'voice', locale: 'en' });
  const ok = await answer(flow, message.code);
  const { claims } = await flow.complete(ok.body.redirect_to);
  expect(claims.amr).toEqual(['pwd', 'tel', 'otp', 'mfa']);
});

test('e-mail: a code to the verified address signs in at AAL1 only, and never satisfies acr_values=aal2', async () => {
  const user = await userWith('otp-email', { email: true });
  const { flow, body } = await atChallenge(user);
  expect(body.destinations).toEqual([
    { id: expect.any(String), channel: 'email', mask: `${user.email[0]}…${user.email.split('@')[0]!.slice(-1)}@example.test` },
  ]);
  const message = await sentCode(flow, 'email', body.destinations[0]!.id, user.email);
  const ok = await answer(flow, message.code);
  const { claims } = await flow.complete(ok.body.redirect_to);
  expect(claims.amr).toEqual(['pwd', 'email', 'otp']);
  expect(claims.acr).toBe('aal1');

  // Asked for AAL2, an account with only an e-mail address cannot get there.
  const { login } = await passwordStep(config, user.username, PASSWORD, { params: { acr_values: 'aal2' } });
  expect(login.body.status).toBe('mfa_enrollment_required');
  expect(login.body.allowed_methods).not.toContain('email');

  // With a phone as well, AAL2 is offered through the phone only: the address is neither listed nor usable.
  const both = await userWith('otp-email-aal2', { phone: true, email: true });
  const { flow: strict, body: offered } = await atChallenge(both, { acr_values: 'aal2' });
  expect(offered.methods).toContain('sms');
  expect(offered.methods).not.toContain('email');
  expect(offered.destinations.map((d) => d.channel)).not.toContain('email');
  const emailId = (await idp.container.destinations.list(both.id)).find((d) => d.type === 'email')!.id;
  const refused = await send(strict, 'email', emailId);
  expect(refused.status).toBe(400);
  expect(refused.body.error).toBe('invalid_method');
});

test('a code expires after the configured lifetime (fake clock)', async () => {
  const user = await userWith('otp-expiry');
  const { flow, body } = await atChallenge(user);
  clock.freeze();
  const message = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  clock.advance(301_000);
  const late = await answer(flow, message.code);
  expect(late.status).toBe(401);
  expect(late.body.error).toBe('invalid_code');
});

test('a second send within 30 s is refused (429 resend_too_soon, Retry-After); later a new code voids the old one', async () => {
  const user = await userWith('otp-resend');
  const { flow, body } = await atChallenge(user);
  clock.freeze();
  const first = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  clock.advance(10_000);
  const early = await send(flow, 'sms', body.destinations[0]!.id, { didNotReceiveCode: true });
  expect(early.status).toBe(429);
  expect(early.body.error).toBe('resend_too_soon');
  expect(Number(early.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(19);
  expect(Number(early.res.headers.get('retry-after'))).toBeLessThanOrEqual(21);
  expect(await codesTo(dataDir, user.phone)).toHaveLength(1);
  clock.advance(21_000);
  const second = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  expect(second.code).toBeDefined();
  if (first.code !== second.code) expect((await answer(flow, first.code)).status).toBe(401);
  expect((await answer(flow, second.code)).body.status).toBe('success');
});

test('five tries per code: after five wrong codes the right one is refused too', async () => {
  const user = await userWith('otp-tries');
  const { flow, body } = await atChallenge(user);
  const message = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  for (let i = 0; i < 5; i++) expect((await answer(flow, otherCode(message.code))).status).toBe(401);
  const right = await answer(flow, message.code);
  expect(right.status).toBe(401);
  expect(right.body.error).toBe('invalid_code');
});

test('concurrent wrong guesses cannot exceed five tries on one code', async () => {
  const user = await userWith('otp-tries-race');
  const { flow, body } = await atChallenge(user);
  const message = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  await Promise.all(Array.from({ length: 10 }, () => answer(flow, otherCode(message.code))));
  expect((await answer(flow, message.code)).status).toBe(401);
});

test('twenty concurrent right answers: exactly one succeeds', async () => {
  const user = await userWith('otp-race');
  const { flow, body } = await atChallenge(user);
  const message = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  const answers = await Promise.all(Array.from({ length: 20 }, () => answer(flow, message.code)));
  expect(answers.filter((a) => a.status === 200 && a.body.status === 'success')).toHaveLength(1);
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
});

test("another login's code does not answer this one, and a used code answers nothing later", async () => {
  const user = await userWith('otp-binding');
  const mine = await atChallenge(user);
  const other = await atChallenge(user);
  const id = mine.body.destinations[0]!.id;
  const mineCode = await sentCode(mine.flow, 'sms', id, user.phone);
  clock.advance(31_000);
  await sentCode(other.flow, 'sms', id, user.phone);
  // The other login's state is there, but the code is bound to the first login.
  expect((await answer(other.flow, mineCode.code)).status).toBe(401);
  const ok = await answer(mine.flow, mineCode.code);
  expect(ok.body.status).toBe('success');
  // Used: the finished login answers nothing, and the code proves nothing elsewhere.
  expect((await answer(mine.flow, mineCode.code)).status).toBeGreaterThanOrEqual(400);
  expect((await answer(other.flow, mineCode.code)).status).toBe(401);
});

test("an unknown or another account's destination id is answered like a real one, and nothing is sent", async () => {
  const user = await userWith('otp-unknown');
  const stranger = await userWith('otp-stranger');
  const { flow } = await atChallenge(user);
  const strangerAt = await atChallenge(stranger);
  const before = (await outbox(dataDir)).length;
  const unknown = await send(flow, 'sms', '00000000-0000-4000-8000-000000000000');
  expect(unknown.status).toBe(200);
  expect(unknown.body).toEqual({ status: 'code_sent', mask: expect.stringMatching(/^xxx-xxx-[0-9]{4}$/), retry_after: 30, expires_in: 300 });
  clock.advance(31_000);
  const theirs = await send(flow, 'sms', strangerAt.body.destinations[0]!.id);
  expect(theirs.status).toBe(200);
  expect(Object.keys(theirs.body).sort()).toEqual(Object.keys(unknown.body).sort());
  expect(theirs.body.mask).not.toBe(`xxx-xxx-${stranger.phone.slice(-4)}`);
  expect((await outbox(dataDir)).length).toBe(before);
  // Hostile bodies are a 400, never a 500.
  for (const bad of [
    { channel: 'sms' },
    { channel: 'fax', destination_id: strangerAt.body.destinations[0]!.id },
    { channel: 'sms', destination_id: "x' or 1=1" },
  ]) {
    const res = await flow.post('mfa/otp/send', bad);
    expect(res.status).toBe(400);
  }
});

test('a start naming an unknown destination voids the code sent before, like any new start', async () => {
  const user = await userWith('otp-unknown-void');
  const { flow, body } = await atChallenge(user);
  clock.freeze();
  const real = await sentCode(flow, 'sms', body.destinations[0]!.id, user.phone);
  clock.advance(31_000);
  expect((await send(flow, 'sms', '00000000-0000-4000-8000-000000000001')).status).toBe(200);
  expect((await answer(flow, real.code)).status).toBe(401);
});

test('sends are limited per account: fifty in a minute are throttled', async () => {
  await idp.container.settings.patchGlobal({ otp: { ...HIGH_LIMITS, sends_per_account_per_hour: 10 } });
  const user = await userWith('otp-pump');
  const { flow, body } = await atChallenge(user);
  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) {
    clock.advance(31_000);
    statuses.push((await send(flow, 'sms', body.destinations[0]!.id)).status);
  }
  expect(statuses.filter((s) => s === 200)).toHaveLength(10);
  expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  expect(await codesTo(dataDir, user.phone)).toHaveLength(10);
});

test('sends are limited per address: many accounts from one IP are throttled', async () => {
  await idp.container.settings.patchGlobal({ otp: { ...HIGH_LIMITS, sends_per_ip_per_10_minutes: 5 } });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const user = await userWith('otp-ip');
    const { flow, body } = await atChallenge(user);
    statuses.push((await send(flow, 'sms', body.destinations[0]!.id)).status);
  }
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3);
});

test('no code, phone number or address reaches the log', async () => {
  const user = await userWith('otp-log', { phone: true, email: true });
  const { flow, body } = await atChallenge(user);
  const message = await sentCode(flow, 'sms', body.destinations.find((d) => d.channel === 'sms')!.id, user.phone);
  await answer(flow, otherCode(message.code));
  await answer(flow, message.code);
  const log = logLines.join('\n');
  expect(log).not.toContain(user.phone);
  expect(log).not.toContain(user.phone.slice(1));
  expect(log).not.toContain(user.email);
  expect(log).not.toContain(`"${message.code}"`);
});

test('the mfa page (no script) lists a send form per destination, then the code field', async () => {
  const user = await userWith('otp-page');
  const { flow, body } = await atChallenge(user);
  const page = await flow.browser.fetch(flow.interactionUrl!.href, { headers: { accept: 'text/html' } });
  const html = await page.text();
  expect(html).toContain('/mfa/otp/send');
  expect(html).toContain(`xxx-xxx-${user.phone.slice(-4)}`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf).toBeDefined();
  {
    const form = new URLSearchParams({ csrf: csrf!, channel: 'sms', destination_id: body.destinations[0]!.id });
    const started = await flow.browser.fetch(`${flow.interactionUrl!.href}/mfa/otp/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: form.toString(),
    });
    const shown = (posted: Response) => pageAfterPost(flow, posted);
    const after = await shown(started);
    expect(after).toContain('/mfa/otp/verify');
    expect(after).toContain('one-time-code');
    // A wrong code gives the page again with the code field still there (no new send needed).
    const { code } = await lastCodeTo(dataDir, user.phone);
    const wrong = await flow.browser.fetch(`${flow.interactionUrl!.href}/mfa/otp/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf: csrf!, code: otherCode(code) }).toString(),
    });
    const again = await shown(wrong);
    // Marked at the field, which says why and takes the focus.
    expect(again).toContain('<p id="otp-code-error" class="field-error">That code is not valid. Try again.</p>');
    expect(again).toMatch(/<input id="otp-code" [^>]* autofocus aria-invalid="true" aria-describedby="otp-code-error">/);
    expect(again).toContain('/mfa/otp/verify');
  }
});
