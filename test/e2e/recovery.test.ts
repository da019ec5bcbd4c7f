/**
 * Recovery when every factor is lost: a link to a verified e-mail address or a code to a verified
 * phone, or trusted contacts' approvals; then a waiting period the owner can cancel in, and one
 * enrolment that yields no session. Messages are read from the outbox under the IdP's data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSecret } from 'otplib';
import { Browser, jsonCall } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, awayFromStepBoundary, codeAt } from '../helpers/mfa-flow.js';
import { eventually, outbox, type OutboxMessage } from '../helpers/outbox.js';
import { authorize, createUser, discover, oc, registerClient, type StepHandler } from '../helpers/rp.js';
import { patchSettings } from '../helpers/sessions.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const clock = new FakeClock();
const PASSWORD = 'a long enough password';
let idp: TestIdp;
let dataDir: string;
let firstParty: oc.Configuration;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'idp-recovery-'));
  idp = await startTestIdp(
    'recovery',
    'postgres+redis',
    { dataDir, rateLimit: { loginPerIpPerMinute: 1000, samlPerIpPerMinute: 60, sentinelPerKeyPerMinute: 60 } },
    { clock },
  );
  await patchSettings(idp.url, undefined, { recovery: { waiting_period_hours: 0 } });
  await patchSettings(idp.url, 'slow-recovery', { recovery: { waiting_period_hours: 1 } });
  const fp = await registerClient(idp.url, { first_party: true });
  firstParty = await discover(idp.url, fp.client_id, fp.client_secret);
});
afterAll(async () => {
  await idp.stop();
  rmSync(dataDir, { recursive: true, force: true });
});
afterEach(() => clock.reset());

let n = 0;
async function newUser(extra: Record<string, unknown> = {}) {
  const username = `rec${++n}_${process.pid}_${Date.now()}`;
  const email = `${username}@example.test`;
  const user = await createUser(idp.url, { external_id: `R_${username}`, username, email, email_verified: true, password: PASSWORD, ...extra });
  return { id: user.id, username, email };
}

async function post(p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${idp.url}/api/v1${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, res };
}

const admin = async (method: string, p: string) => {
  const res = await fetch(`${idp.url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: res.status, body: res.status === 204 ? undefined : await res.json() };
};
const requestsOf = async (userId: string) => (await admin('GET', `/users/${userId}/recovery-requests`)).body.recovery_requests as any[];

const start = (username_or_email: string, method?: string) => post('/recovery/start', { username_or_email, ...(method ? { method } : {}) });

/** The newest message to `to` that `pick` accepts, waiting for the background send. */
async function messageTo(to: string, pick: (m: OutboxMessage) => boolean = () => true): Promise<OutboxMessage> {
  const found = await eventually(async () => (await outbox(dataDir)).filter((m) => m.to === to && pick(m)).pop());
  if (!found) throw new Error(`no message to ${to}`);
  return found;
}

/** The confirmation link the start sent for `requestId`, and its token. */
async function linkOf(email: string, requestId: string) {
  const m = await messageTo(email, (x) => x.data?.link?.includes(`/recovery/${requestId}/confirm`) ?? false);
  const link = new URL(m.data!.link!);
  return { link, token: new URLSearchParams(link.hash.slice(1)).get('token')! };
}

/** A started and confirmed e-mail recovery (0-hour waiting period: ready at once). */
async function readyByEmail(user: { username: string; email: string }) {
  const s = await start(user.username);
  const { token } = await linkOf(user.email, s.body.request_id);
  const c = await post(`/recovery/${s.body.request_id}/confirm`, { token });
  expect(c.status).toBe(200);
  return { id: s.body.request_id as string, requestToken: s.body.request_token as string };
}

describe('starting', () => {
  test('an unknown and a known account get the same answer, as fast; only the known one gets mail', async () => {
    const user = await newUser();
    const timed = async (login: string) => {
      const t0 = performance.now();
      const r = await start(login);
      return { r, ms: performance.now() - t0 };
    };
    const known = [];
    const unknown = [];
    for (let i = 0; i < 3; i++) {
      known.push(await timed(i === 0 ? user.username : user.email));
      unknown.push(await timed(`nobody-${i}-${Date.now()}@example.test`));
    }
    for (const { r } of [...known, ...unknown]) {
      expect(r.status).toBe(202);
      expect(Object.keys(r.body).sort()).toEqual(['request_id', 'request_token', 'status']);
      expect(r.body).toEqual({ request_id: expect.stringMatching(/^[0-9a-f-]{36}$/), request_token: expect.stringMatching(/^[\w-]{43}$/), status: 'accepted' });
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    expect(Math.abs(median(known.map((k) => k.ms)) - median(unknown.map((u) => u.ms)))).toBeLessThan(50);
    await linkOf(user.email, known[0]!.r.body.request_id);
    // The owner's security notice says a recovery was asked for, and carries no link.
    const told = await messageTo(user.email, (m) => m.subject === 'Account recovery was requested');
    expect(told.data!.link).toBeUndefined();
    // The account is capped at three starts an hour: the fourth is answered alike and sends nothing.
    const fourth = await start(user.username);
    expect(fourth.status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    expect((await outbox(dataDir)).some((m) => m.data?.link?.includes(fourth.body.request_id))).toBe(false);
    expect(await requestsOf(user.id)).toHaveLength(3);
  });

  test('the link is built from the issuer, whatever Host, X-Forwarded-Host or Forwarded say', async () => {
    const user = await newUser();
    const target = new URL(idp.url);
    const body = JSON.stringify({ username_or_email: user.username });
    const answer = await new Promise<any>((resolve, reject) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: '/api/v1/recovery/start',
          method: 'POST',
          headers: {
            host: 'evil.example',
            'x-forwarded-host': 'evil.example',
            'x-forwarded-proto': 'https',
            forwarded: 'host=evil.example;proto=https',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(202);
    const { link } = await linkOf(user.email, answer.body.request_id);
    expect(link.origin).toBe(target.origin);
    expect(link.href.startsWith(`${target.origin}/api/v1/recovery/${answer.body.request_id}/confirm#token=`)).toBe(true);
    expect(JSON.stringify(await outbox(dataDir))).not.toContain('evil.example');
  });

  test('bad input is a 400 JSON error, never a 500', async () => {
    for (const bad of [{}, { username_or_email: '' }, { username_or_email: 'x', method: 'fax' }, { username_or_email: 'x', extra: 1 }]) {
      const r = await post('/recovery/start', bad);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
    // A control character is refused before any lookup; a lone surrogate gets the usual answer.
    expect((await post('/recovery/start', { username_or_email: 'a\u0000b' })).body).toEqual({
      error: 'invalid_request',
      error_description: expect.any(String),
    });
    expect((await post('/recovery/start', { username_or_email: 'a\ud800b' })).status).toBe(202);
    expect((await post('/recovery/not-a-uuid/confirm', { token: 'x'.repeat(43) })).status).toBe(400);
    expect((await post(`/recovery/${crypto.randomUUID()}/confirm`, { token: 'x'.repeat(43) })).body.error).toBe('invalid_code');
  });
});

describe('confirming', () => {
  test('the token is single-use: of 20 parallel confirms exactly one succeeds', async () => {
    const user = await newUser();
    const s = await start(user.username);
    const { token } = await linkOf(user.email, s.body.request_id);
    const all = await Promise.all(Array.from({ length: 20 }, () => post(`/recovery/${s.body.request_id}/confirm`, { token })));
    expect(all.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of all.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_code');
    expect((await post(`/recovery/${s.body.request_id}/confirm`, { token })).status).toBe(401);
    const [row] = await requestsOf(user.id);
    expect(row.status).toBe('ready');
  });

  test('a token is bound to its request: request A’s token at request B is refused', async () => {
    const a = await newUser();
    const b = await newUser();
    const sa = await start(a.username);
    const sb = await start(b.username);
    const ta = (await linkOf(a.email, sa.body.request_id)).token;
    await linkOf(b.email, sb.body.request_id);
    expect((await post(`/recovery/${sb.body.request_id}/confirm`, { token: ta })).body.error).toBe('invalid_code');
    expect((await post(`/recovery/${sa.body.request_id}/confirm`, { token: ta })).status).toBe(200);
    expect((await requestsOf(b.id))[0].status).toBe('pending_confirmation');
  });

  test('by phone: an 8-digit SMS code, five tries at most', async () => {
    const user = await newUser({ phone: '+14155550123', phone_verified: true });
    const s = await start(user.email, 'phone');
    const sms = await messageTo('+14155550123', (m) => m.purpose === 'recovery');
    expect(sms).toMatchObject({ channel: 'sms', code: expect.stringMatching(/^\d{8}$/) });
    const wrong = sms.code === '00000000' ? '00000001' : '00000000';
    const tries = await Promise.all(Array.from({ length: 8 }, () => post(`/recovery/${s.body.request_id}/confirm`, { code: wrong })));
    expect(tries.every((t) => t.status === 401)).toBe(true);
    expect((await post(`/recovery/${s.body.request_id}/confirm`, { code: sms.code })).status).toBe(401);
  });

  test('expired after 30 minutes', async () => {
    const user = await newUser();
    const s = await start(user.username);
    const { token } = await linkOf(user.email, s.body.request_id);
    clock.advance(31 * MINUTE);
    expect((await post(`/recovery/${s.body.request_id}/confirm`, { token })).status).toBe(401);
    expect((await requestsOf(user.id))[0].status).toBe('expired');
  });
});

describe('the waiting period', () => {
  test('a 1-hour period stays waiting (no enrolment) until it ends; every verified address hears of it', async () => {
    const user = await newUser({ organization: 'slow-recovery' });
    const s = await start(user.username);
    const { token } = await linkOf(user.email, s.body.request_id);
    const c = await post(`/recovery/${s.body.request_id}/confirm`, { token });
    expect(c.body).toEqual({ status: 'waiting', ready_at: expect.any(String) });
    const notice = await messageTo(user.email, (m) => m.data?.link?.includes('/cancel#token=') ?? false);
    expect(notice.data!.link!.startsWith(`${new URL(idp.url).origin}/api/v1/recovery/${s.body.request_id}/cancel#token=`)).toBe(true);
    const begin = () => post(`/recovery/${s.body.request_id}/enroll/totp/begin`, { request_token: s.body.request_token });
    expect((await begin()).status).toBe(409);
    clock.advance(59 * MINUTE);
    expect((await begin()).status).toBe(409);
    expect((await requestsOf(user.id))[0].status).toBe('waiting');
    clock.advance(2 * MINUTE);
    expect((await begin()).status).toBe(200);
  });

  test('the owner cancels with the notice’s link (once); the request is then dead', async () => {
    const user = await newUser({ organization: 'slow-recovery' });
    const s = await start(user.username);
    const { token } = await linkOf(user.email, s.body.request_id);
    await post(`/recovery/${s.body.request_id}/confirm`, { token });
    const notice = await messageTo(user.email, (m) => m.data?.link?.includes('/cancel#token=') ?? false);
    const cancelToken = new URLSearchParams(new URL(notice.data!.link!).hash.slice(1)).get('token')!;
    expect((await post(`/recovery/${s.body.request_id}/cancel`, { token: token })).status).toBe(401);
    const both = await Promise.all([1, 2, 3].map(() => post(`/recovery/${s.body.request_id}/cancel`, { token: cancelToken })));
    expect(both.filter((r) => r.status === 200)).toHaveLength(1);
    clock.advance(2 * 60 * MINUTE);
    expect((await post(`/recovery/${s.body.request_id}/enroll/totp/begin`, { request_token: s.body.request_token })).status).toBe(409);
    expect((await requestsOf(user.id))[0]).toMatchObject({ status: 'cancelled', cancelled_by: 'owner' });
  });

  test('an administrator lists and cancels a user’s requests', async () => {
    const user = await newUser();
    const { id, requestToken } = await readyByEmail(user);
    expect(await requestsOf(user.id)).toEqual([expect.objectContaining({ id, method: 'email', status: 'ready' })]);
    // Another request's token is no key to this one.
    const other = await readyByEmail(await newUser());
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: other.requestToken })).status).toBe(401);
    expect((await admin('DELETE', `/users/${user.id}/recovery-requests/${id}`)).status).toBe(204);
    expect((await admin('DELETE', `/users/${user.id}/recovery-requests/${id}`)).status).toBe(409);
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: requestToken })).status).toBe(409);
  });
});

describe('enrolment', () => {
  /** The user's sign-in: password, then a TOTP code when asked. */
  const signIn = (username: string, secret: string | undefined, seen: any[]) => {
    const steps: StepHandler = async ({ step, interactionUrl, browser }) => {
      const at = (p: string, b: unknown) => browser.json(`${interactionUrl.href}/${p}`, b);
      if (step === 'consent') return (await at('consent', {})).body.redirect_to;
      let r = await at('login', { username, password: PASSWORD });
      seen.push(r.body);
      if (r.body.status === 'mfa_required') {
        if (!secret) throw new Error('MFA asked');
        r = await at('mfa/totp', { code: await codeAt(secret, clock.now()) });
      }
      if (r.body.status === 'trust_device') r = await at('trust-device', { trust: false });
      if (r.body.status !== 'success') throw new Error(`sign-in stopped at ${JSON.stringify(r.body)}`);
      return r.body.redirect_to;
    };
    return authorize(firstParty, { browser: new Browser(), onStep: steps });
  };

  test('one new factor, no session: the id_token then needs the password and that factor', async () => {
    const user = await newUser();
    const { id, requestToken } = await readyByEmail(user);
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: 'A'.repeat(43) })).status).toBe(401);
    const begin = await post(`/recovery/${id}/enroll/totp/begin`, { request_token: requestToken });
    expect(begin.status).toBe(200);
    expect(begin.res.headers.get('set-cookie')).toBeNull();
    const secret = begin.body.secret as string;
    await awayFromStepBoundary(clock);
    const wrong = await post(`/recovery/${id}/enroll/totp/confirm`, {
      request_token: requestToken,
      code: '000000' === (await codeAt(secret, clock.now(), -1)) ? '111111' : '000000',
    });
    expect(wrong.status).toBe(401);
    const done = await post(`/recovery/${id}/enroll/totp/confirm`, { request_token: requestToken, code: await codeAt(secret, clock.now(), -1) });
    expect(done.body).toEqual({ status: 'completed', method: 'totp' });
    expect(done.res.headers.get('set-cookie')).toBeNull();
    expect(JSON.stringify(done.body)).not.toMatch(/token|session/);
    // Used up: a second enrolment is refused.
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: requestToken })).status).toBe(409);

    const seen: any[] = [];
    await expect(signIn(user.username, undefined, seen)).rejects.toThrow('MFA asked');
    expect(seen[0].status).toBe('mfa_required');
    const { tokens } = await signIn(user.username, secret, []);
    expect(tokens.claims()!.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    const types = (await idp.container.db.selectFrom('auditEvents').select('type').where('subject', '=', user.id).execute()).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['recovery.requested', 'recovery.confirmed', 'recovery.completed', 'authn.factor.enrolled']));
  });

  test('the enrolment is single-use: of 10 parallel right answers one completes it', async () => {
    const user = await newUser();
    const { id, requestToken } = await readyByEmail(user);
    const secret = (await post(`/recovery/${id}/enroll/totp/begin`, { request_token: requestToken })).body.secret as string;
    await awayFromStepBoundary(clock);
    const codes = await Promise.all([-1, 0].map((s) => codeAt(secret, clock.now(), s)));
    const all = await Promise.all(
      Array.from({ length: 10 }, (_, i) => post(`/recovery/${id}/enroll/totp/confirm`, { request_token: requestToken, code: codes[i % 2] })),
    );
    expect(all.filter((r) => r.status === 200)).toHaveLength(1);
    expect((await requestsOf(user.id))[0]).toMatchObject({ status: 'completed', enrolled_method: 'totp' });
    expect((await idp.container.credentials.countActiveByKind(user.id)).totp).toBe(1);
  });

  test('a passkey can be the new factor', async () => {
    const user = await newUser();
    const { id, requestToken } = await readyByEmail(user);
    const options = await post(`/recovery/${id}/enroll/passkey/begin`, { request_token: requestToken });
    expect(options.status).toBe(200);
    const credential = await new SoftAuthenticator({ origin: new URL(idp.url).origin }).create(options.body, { origin: new URL(idp.url).origin });
    const done = await post(`/recovery/${id}/enroll/passkey/confirm`, { request_token: requestToken, credential });
    expect(done.body).toEqual({ status: 'completed', method: 'passkey' });
    expect((await idp.container.credentials.countActiveByKind(user.id)).passkey).toBe(1);
  });

  test('a recovery by e-mail cannot enrol an e-mail code, nor one by phone a phone code', async () => {
    const user = await newUser();
    const { id, requestToken } = await readyByEmail(user);
    const r = await post(`/recovery/${id}/enroll/email/begin`, { request_token: requestToken });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_method');
    expect((await post(`/recovery/${id}/enroll/email/confirm`, { request_token: requestToken, code: '123456' })).body.error).toBe('invalid_method');

    const phoneUser = await newUser({ phone: '+14155550199', phone_verified: true });
    const s = await start(phoneUser.username, 'phone');
    const sms = await messageTo('+14155550199', (m) => m.purpose === 'recovery');
    expect((await post(`/recovery/${s.body.request_id}/confirm`, { code: sms.code })).status).toBe(200);
    for (const method of ['sms', 'voice']) {
      expect((await post(`/recovery/${s.body.request_id}/enroll/${method}/begin`, { request_token: s.body.request_token })).body.error).toBe('invalid_method');
    }
    expect((await post(`/recovery/${s.body.request_id}/enroll/totp/begin`, { request_token: s.body.request_token })).status).toBe(200);
  });
});

describe('trusted contacts', () => {
  /** A user with a TOTP credential, signed in with it (a fresh second factor): their browser. */
  async function signedInWithMfa(user: { username: string; id: string }) {
    const secret = generateSecret({ length: 20 });
    await idp.container.credentials.insert({ userId: user.id, kind: 'totp', name: 'app', secretSealed: idp.container.box.seal(secret), confirmed: true });
    const steps: StepHandler = async ({ step, interactionUrl, browser }) => {
      const at = (p: string, b: unknown) => browser.json(`${interactionUrl.href}/${p}`, b);
      if (step === 'consent') return (await at('consent', {})).body.redirect_to;
      let r = await at('login', { username: user.username, password: PASSWORD });
      if (r.body.status === 'mfa_required') r = await at('mfa/totp', { code: await codeAt(secret, clock.now()) });
      if (r.body.status === 'trust_device') r = await at('trust-device', { trust: false });
      return r.body.redirect_to;
    };
    return (await authorize(firstParty, { browser: new Browser(), onStep: steps })).browser;
  }
  const call = (browser: Browser, method: string, path: string, body?: unknown) => jsonCall(browser, `${idp.url}/api/v1`, method, path, body);

  test('2 of 3 approvals: a contact approving twice counts once; a non-contact and the owner are refused', async () => {
    const owner = await newUser();
    const contacts = [await newUser(), await newUser(), await newUser()];
    const outsider = await newUser();
    const ownerBrowser = await signedInWithMfa(owner);
    // Naming contacts needs a fresh second factor: a password-only session is refused.
    const plain = await newUser();
    const plainBrowser = (
      await authorize(firstParty, {
        onStep: async ({ step, interactionUrl, browser }) => {
          const r = await browser.json(
            `${interactionUrl.href}/${step === 'consent' ? 'consent' : 'login'}`,
            step === 'consent' ? {} : { username: plain.username, password: PASSWORD },
          );
          return r.body.redirect_to;
        },
      })
    ).browser;
    expect((await call(plainBrowser, 'PUT', '/me/trusted-contacts', { user_ids: [owner.id] })).body.error).toBe('step_up_required');

    expect((await call(ownerBrowser, 'PUT', '/me/trusted-contacts', { user_ids: [owner.id] })).status).toBe(400);
    expect((await call(ownerBrowser, 'PUT', '/me/trusted-contacts', { user_ids: [...contacts.map((c) => c.id), outsider.id] })).status).toBe(400);
    const put = await call(ownerBrowser, 'PUT', '/me/trusted-contacts', { user_ids: contacts.map((c) => c.id) });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ max: 3, required: 2 });
    expect(put.body.contacts.map((c: any) => c.id).sort()).toEqual(contacts.map((c) => c.id).sort());
    await messageTo(contacts[0]!.email, (m) => m.subject === 'You were named a trusted contact');

    const s = await start(owner.username, 'trusted_contacts');
    expect(s.status).toBe(202);
    await messageTo(contacts[1]!.email, (m) => m.text?.includes(s.body.request_id) ?? false);
    const id = s.body.request_id as string;
    const [c0, c1] = await Promise.all([signedInWithMfa(contacts[0]!), signedInWithMfa(contacts[1]!)]);
    const outsiderBrowser = await signedInWithMfa(outsider);

    expect((await call(outsiderBrowser, 'POST', `/me/recovery-approvals/${id}`, { approve: true })).status).toBe(403);
    expect((await call(ownerBrowser, 'POST', `/me/recovery-approvals/${id}`, { approve: true })).status).toBe(403);
    const twice = await Promise.all([1, 2, 3].map(() => call(c0, 'POST', `/me/recovery-approvals/${id}`, { approve: true })));
    expect(twice.filter((r) => r.status === 200)).toHaveLength(1);
    expect(twice.filter((r) => r.status === 409)).toHaveLength(2);
    expect((await requestsOf(owner.id))[0]).toMatchObject({ status: 'pending_approvals', approvals: 1, required_approvals: 2 });
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: s.body.request_token })).status).toBe(409);

    const second = await call(c1, 'POST', `/me/recovery-approvals/${id}`, { approve: true });
    expect(second.body).toEqual({ status: 'ready', approvals: 2, required_approvals: 2 });
    expect((await post(`/recovery/${id}/enroll/totp/begin`, { request_token: s.body.request_token })).status).toBe(200);
    // The third contact refusing now ends the request.
    const c2 = await signedInWithMfa(contacts[2]!);
    expect((await call(c2, 'POST', `/me/recovery-approvals/${id}`, { approve: false })).body).toEqual({ status: 'cancelled' });
    expect((await post(`/recovery/${id}/enroll/totp/confirm`, { request_token: s.body.request_token, code: '123456' })).status).toBe(409);
    const approved = await idp.container.db
      .selectFrom('auditEvents')
      .select('actor')
      .where('type', '=', 'recovery.approved')
      .where('subject', '=', owner.id)
      .execute();
    expect(approved.map((e) => e.actor).sort()).toEqual([`user:${contacts[0]!.id}`, `user:${contacts[1]!.id}`].sort());
  });
});
