/**
 * TOTP as the second factor of a real login (openid-client as the RP, codes computed with otplib
 * independently of the IdP): amr/acr, replay, the ±1 step window, the per-challenge
 * attempt limit, the account-level MFA lock, hostile inputs and client time.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, awayFromStepBoundary, beginAuth, codeAt, newUser, passwordStep, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let clientId: string;

beforeAll(async () => {
  idp = await startTestIdp('mfa-totp', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  // The account-level lock is exercised by its own test; elsewhere it must not interfere.
  await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 100 } });
});
afterAll(async () => {
  await idp.stop();
});

async function totpUser(label: string) {
  const user = await newUser(idp.url, label);
  return { ...user, secret: await seedTotp(idp.container, user.id) };
}

/** A new login of `username` answered with the password: asserts the TOTP challenge. */
async function atChallenge(username: string) {
  const { flow, login } = await passwordStep(config, username, PASSWORD);
  expect(login.status).toBe(200);
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  return flow;
}

const totp = (flow: Awaited<ReturnType<typeof atChallenge>>, code: unknown) => flow.post('mfa/totp', { code });

test('password + TOTP: the interaction is at the mfa step, a valid code ends it with acr aal2 and amr pwd/otp/mfa', async () => {
  const user = await totpUser('totp-ok');
  const flow = await atChallenge(user.username);
  const details = await flow.details();
  expect(details.body).toMatchObject({ step: 'mfa', methods: ['totp'], client_id: clientId });

  const res = await totp(flow, await codeAt(user.secret, Date.now()));
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  expect(res.body.trust_device_token).toBeUndefined();
  const { tokens } = await flow.complete(res.body.redirect_to);

  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: clientId });
  expect(payload.sub).toBe(user.id);
  expect(payload.acr).toBe('aal2');
  expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(payload.step_up).toBeUndefined();
  expect(Math.abs((payload.auth_time as number) - Date.now() / 1000)).toBeLessThan(30);
});

test('a password alone never yields a code: the transaction cannot be finished without the second factor (C9)', async () => {
  const user = await totpUser('totp-skip');
  const flow = await atChallenge(user.username);
  // Trying the later steps directly, or the password again, does not complete the login.
  expect((await flow.post('trust-device', { trust: true })).status).toBe(400);
  expect((await flow.post('login', { username: user.username, password: PASSWORD })).status).toBe(400);
  expect((await flow.post('enroll/totp/confirm', { code: await codeAt(user.secret, Date.now()) })).status).toBe(400);
  expect((await flow.details()).body.step).toBe('mfa');
});

test('replay: a code accepted in one login is refused in the next, so is the previous step; the next step still works', async () => {
  const user = await totpUser('totp-replay');
  await awayFromStepBoundary();
  const now = Date.now();
  const code = await codeAt(user.secret, now);

  const first = await atChallenge(user.username);
  const ok = await totp(first, code);
  expect(ok.status).toBe(200);
  expect((await first.complete(ok.body.redirect_to)).claims.acr).toBe('aal2');

  const second = await atChallenge(user.username);
  const replay = await totp(second, code);
  expect(replay.status).toBe(401);
  expect(replay.body.error).toBe('invalid_code');
  // Within the window, but at or before the last accepted step: refused.
  const older = await totp(second, await codeAt(user.secret, now, -1));
  expect(older.status).toBe(401);
  expect(older.body.error).toBe('invalid_code');
  // The challenge itself is still alive: the next step's code is accepted.
  const next = await totp(second, await codeAt(user.secret, now, 1));
  expect(next.status).toBe(200);
  expect((await second.complete(next.body.redirect_to)).claims.amr).toEqual(['pwd', 'otp', 'mfa']);
});

test('one valid code posted in 20 parallel interactions of the same user: exactly one success', async () => {
  const user = await totpUser('totp-race');
  const flows = await Promise.all(Array.from({ length: 20 }, () => atChallenge(user.username)));
  const code = await codeAt(user.secret, Date.now());
  const results = await Promise.all(flows.map((f) => totp(f, code)));

  const statuses = results.map((r) => r.status).sort();
  expect(statuses.filter((s) => s === 200)).toHaveLength(1);
  expect(statuses.filter((s) => s === 401)).toHaveLength(19);
  for (const r of results.filter((x) => x.status === 401)) expect(r.body.error).toBe('invalid_code');

  const winner = results.findIndex((r) => r.status === 200);
  expect((await flows[winner]!.complete(results[winner]!.body.redirect_to)).claims.acr).toBe('aal2');
  // The nineteen losers were recorded as failed attempts (the replay is logged).
  const failed = await idp.container.db
    .selectFrom('auditEvents')
    .select('type')
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.mfa.failed')
    .execute();
  expect(failed).toHaveLength(19);
});

test('the drift window: steps −2 and +2 refused, −1 and +1 accepted', async () => {
  const user = await totpUser('totp-window');
  await awayFromStepBoundary();
  const now = Date.now();
  const flow = await atChallenge(user.username);
  for (const step of [-2, 2]) {
    const res = await totp(flow, await codeAt(user.secret, now, step));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_code');
  }
  const minus1 = await totp(flow, await codeAt(user.secret, now, -1));
  expect(minus1.status).toBe(200);
  await flow.complete(minus1.body.redirect_to);

  const again = await atChallenge(user.username);
  const plus1 = await totp(again, await codeAt(user.secret, now, 1));
  expect(plus1.status).toBe(200);
  expect((await again.complete(plus1.body.redirect_to)).claims.acr).toBe('aal2');
});

test('only server time counts: a code for a time the client claims in headers or body is refused', async () => {
  const user = await totpUser('totp-time');
  const claimed = Date.now() + 10 * 60_000;
  const flow = await atChallenge(user.username);
  const res = await flow.browser.json(`${flow.interactionUrl!.href}/mfa/totp`, {
    code: await codeAt(user.secret, claimed),
    time: Math.floor(claimed / 1000),
    epoch: Math.floor(claimed / 1000),
    timestamp: new Date(claimed).toISOString(),
  });
  expect(res.status).toBe(401);
  const headed = await flow.browser.fetch(`${flow.interactionUrl!.href}/mfa/totp`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', date: new Date(claimed).toUTCString(), 'x-client-time': String(claimed) },
    body: JSON.stringify({ code: await codeAt(user.secret, claimed) }),
  });
  expect(headed.status).toBe(401);
  expect((await totp(flow, await codeAt(user.secret, Date.now()))).status).toBe(200);
});

test('ten wrong codes in one challenge: the 10th answers 429 too_many_attempts and the challenge is void, even for the right code', async () => {
  const user = await totpUser('totp-limit');
  const bad = await wrongCode(user.secret);
  const flow = await atChallenge(user.username);
  for (let i = 1; i <= 9; i++) {
    const res = await totp(flow, bad);
    expect([i, res.status, res.body.error]).toEqual([i, 401, 'invalid_code']);
  }
  const tenth = await totp(flow, bad);
  expect(tenth.status).toBe(429);
  expect(tenth.body.error).toBe('too_many_attempts');
  const right = await totp(flow, await codeAt(user.secret, Date.now()));
  expect(right.status).toBe(429);
  expect(right.body.error).toBe('too_many_attempts');

  // The limit is the challenge's: a new sign-in with the right code works (the account threshold is 100 here).
  const fresh = await atChallenge(user.username);
  const ok = await totp(fresh, await codeAt(user.secret, Date.now()));
  expect(ok.status).toBe(200);
  // A success resets the account's consecutive-failure counter.
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(0);
});

test('account-level lock: mfa_max_failures failures across challenges → 429 mfa_locked, also in a new interaction; the password counter is untouched', async () => {
  await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 3 } });
  try {
    const user = await totpUser('totp-lock');
    const bad = await wrongCode(user.secret);

    const a = await atChallenge(user.username);
    for (let i = 0; i < 2; i++) expect((await totp(a, bad)).status).toBe(401);
    expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(2);

    // A new pre-auth session does not reset the account's counter.
    const b = await atChallenge(user.username);
    const third = await totp(b, bad);
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('mfa_locked');
    const locked = await idp.container.accounts.findById(user.id);
    expect(locked!.mfaLockedUntil).not.toBeNull();
    expect(locked!.mfaLockedUntil!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    // The lock ended login B: even the right code finds no challenge there any more.
    const rightInB = await totp(b, await codeAt(user.secret, Date.now()));
    expect(rightInB.status).toBe(400);
    expect(rightInB.body.error).toBe('invalid_step');

    // New interaction: the password is still accepted (separate counter), the second factor stays locked.
    const c = await atChallenge(user.username);
    const rightInC = await totp(c, await codeAt(user.secret, Date.now()));
    expect(rightInC.status).toBe(429);
    expect(rightInC.body.error).toBe('mfa_locked');
    const after = (await idp.container.accounts.findById(user.id))!;
    expect(after.failedAttempts).toBe(0);
    expect(after.lockedUntil).toBeNull();
    expect(after.status).toBe('active');

    const audit = await idp.container.db.selectFrom('auditEvents').select('type').where('subject', '=', user.id).execute();
    expect(audit.filter((e) => e.type === 'authn.mfa.failed')).toHaveLength(3);
    expect(audit.some((e) => e.type === 'authn.mfa.locked')).toBe(true);
  } finally {
    await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 100 } });
  }
});

test('hostile values of the code field → 400/401, never 500, each one counted as a failure', async () => {
  const user = await totpUser('totp-hostile');
  const flow = await atChallenge(user.username);
  const hostile: unknown[] = ['', '1234567', '１２３４５６', '123456\n', ['123456', '654321'], { $gt: '' }, 123456, null, '9'.repeat(10_240)];
  const answers = [];
  for (const code of hostile) {
    const res = await totp(flow, code);
    answers.push({ code: JSON.stringify(code).slice(0, 24), status: res.status, error: res.body.error });
  }
  // Listed as offenders: anything but 400 invalid_request / 401 invalid_code.
  expect(answers.filter((a) => !((a.status === 400 && a.error === 'invalid_request') || (a.status === 401 && a.error === 'invalid_code')))).toEqual([]);
  // Every one of them was counted against the account ...
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(hostile.length);
  // ... and against the challenge: the 10th attempt reaches the limit.
  const tenth = await totp(flow, await wrongCode(user.secret));
  expect(tenth.status).toBe(429);
  expect(tenth.body.error).toBe('too_many_attempts');
  // The IdP is fine afterwards: a new sign-in with the right code works.
  const fresh = await atChallenge(user.username);
  expect((await totp(fresh, await codeAt(user.secret, Date.now()))).status).toBe(200);
});

test('before the password there is no challenge to answer: a code alone is refused', async () => {
  const user = await totpUser('totp-nointeraction');
  const flow = await beginAuth(config);
  // No password yet: there is no challenge to answer.
  const early = await flow.post('mfa/totp', { code: await codeAt(user.secret, Date.now()) });
  expect(early.status).toBe(400);
  expect(early.body.error).toBe('invalid_step');
});
