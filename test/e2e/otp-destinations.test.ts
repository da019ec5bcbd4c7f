/**
 * Destinations for one-time codes (verified phone numbers and e-mail addresses) through the real
 * server: self-service enrolment verified by a code sent to the stored value (never to one the
 * request names), the notice to the account's other addresses, step-up with an SMS code, removal,
 * the admin API (a platform may vouch for one) and users created with verified contacts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, PASSWORD, newUser, passwordStep } from '../helpers/mfa-flow.js';
import { codesTo, lastCodeTo, otherCode, outbox } from '../helpers/otp.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;
let dataDir: string;
const admin = apiClient(() => idp.url);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-otp-dest-'));
  idp = await startTestIdp(
    'otp-destinations',
    'postgres+redis',
    { dataDir, rateLimit: { loginPerIpPerMinute: 10_000 }, mfa: { attemptsPerChallenge: 50, recentAuthSeconds: 300 } },
    { clock },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email'] },
    lockout: { mfa_max_failures: 100 },
    otp: { sends_per_account_per_hour: 1000, sends_per_destination_per_10_minutes: 1000, sends_per_ip_per_10_minutes: 100_000 },
  });
});
afterAll(async () => {
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});
afterEach(() => clock.reset());

let seq = 0;
const nextPhone = () => `+1202555${String(1000 + ++seq)}`;

/** Signs in (answering an SMS or e-mail code when asked) and returns a self-service client on the access token. */
async function signedIn(username: string, codeTo?: string) {
  const { flow, login } = await passwordStep(config, username, PASSWORD);
  let done = login;
  if (login.body.status === 'mfa_required') {
    const d = (login.body.destinations as { id: string; channel: string }[]).find((x) => x.channel === 'sms' || x.channel === 'email')!;
    expect((await flow.post('mfa/otp/send', { channel: d.channel, destination_id: d.id })).status).toBe(200);
    done = await flow.post('mfa/otp/verify', { code: (await lastCodeTo(dataDir, codeTo!)).code });
  }
  expect(done.body.status).toBe('success');
  const { tokens } = await flow.complete(done.body.redirect_to);
  return apiClient(
    () => idp.url,
    () => tokens.access_token,
  );
}

test('self-service: a phone is pending until the code sent to it comes back; then SMS and voice are enrolled', async () => {
  const user = await newUser(idp.url, 'dest-phone');
  const me = await signedIn(user.username);
  const phone = nextPhone();
  const added = await me('POST', '/mfa/phones', { phone: `(202) 555-${phone.slice(-4)}`.replace('(202)', '+1 202') });
  expect(added.status).toBe(201);
  expect(added.body).toMatchObject({
    type: 'phone',
    channels: ['sms', 'voice'],
    mask: `xxx-xxx-${phone.slice(-4)}`,
    verified: false,
    code_sent: { status: 'code_sent' },
  });
  const message = await lastCodeTo(dataDir, phone);
  expect(message).toMatchObject({ channel: 'sms', purpose: 'verify_destination' });
  // Pending: not a factor yet.
  expect((await me('GET', '/mfa')).body.methods).not.toContain('sms');
  const wrong = await me('POST', `/mfa/phones/${added.body.id}/verify`, { code: otherCode(message.code) });
  expectJsonError(wrong, 401, 'invalid_code');
  const ok = await me('POST', `/mfa/phones/${added.body.id}/verify`, { code: message.code });
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ id: added.body.id, verified: true });
  expect((await me('GET', '/mfa')).body.methods).toEqual(expect.arrayContaining(['sms', 'voice']));
  expect((await me('GET', '/mfa/destinations')).body.destinations).toEqual([expect.objectContaining({ id: added.body.id, verified: true })]);
  // Stored sealed, with its mask as the name; never in clear.
  const row = await idp.container.db.selectFrom('credentials').selectAll().where('id', '=', added.body.id).executeTakeFirstOrThrow();
  expect(row.kind).toBe('phone');
  expect(JSON.stringify(row)).not.toContain(phone.slice(1));
  expect(idp.container.box.open(row.secretSealed!)).toBe(phone);
  // The same number again is a conflict.
  expectJsonError(await me('POST', '/mfa/phones', { phone }), 409, 'conflict');
  const audits = await idp.container.db.selectFrom('auditEvents').select('type').where('subject', '=', user.id).execute();
  expect(audits.map((a) => a.type)).toEqual(expect.arrayContaining(['authn.destination.added', 'authn.otp.sent', 'authn.destination.verified']));
});

test('the verification code goes to the stored value only: a resend naming another address sends nothing there', async () => {
  const user = await newUser(idp.url, 'dest-redirect');
  const me = await signedIn(user.username);
  const added = await me('POST', '/mfa/emails', { email: '  Victim.Person@Example.TEST ' });
  expect(added.status).toBe(201);
  expect(added.body.mask).toBe('v…n@example.test');
  clock.advance(31_000);
  const resent = await me('POST', `/mfa/emails/${added.body.id}/resend`, { email: 'attacker@evil.test', to: 'attacker@evil.test' });
  expect(resent.status).toBe(200);
  const sent = await codesTo(dataDir, 'victim.person@example.test');
  expect(sent).toHaveLength(2);
  expect((await outbox(dataDir)).some((m) => m.to === 'attacker@evil.test')).toBe(false);
  // The resend interval holds for verification codes too.
  expectJsonError(await me('POST', `/mfa/emails/${added.body.id}/resend`), 429, 'resend_too_soon');
  // The newer code voids the older.
  expectJsonError(await me('POST', `/mfa/emails/${added.body.id}/verify`, { code: sent[0]!.code }), 401, 'invalid_code');
  expect((await me('POST', `/mfa/emails/${added.body.id}/verify`, { code: sent[1]!.code })).status).toBe(200);
});

test("invalid numbers and addresses are refused with 400; another account's destination is a 404", async () => {
  const user = await newUser(idp.url, 'dest-invalid');
  const me = await signedIn(user.username);
  for (const phone of ['12345', '+1 000 000 0000', 'not a phone', '+4470\u0000', 'x'.repeat(100)])
    expectJsonError(await me('POST', '/mfa/phones', { phone }), 400, 'invalid_request');
  for (const email of ['nope', 'a@', '@b.test', 'a b@c.test']) expectJsonError(await me('POST', '/mfa/emails', { email }), 400, 'invalid_request');
  expectJsonError(await me('POST', '/mfa/phones', {}), 400, 'invalid_request');
  const other = await newUser(idp.url, 'dest-invalid-other');
  const theirs = await (await signedIn(other.username))('POST', '/mfa/phones', { phone: nextPhone() });
  expectJsonError(await me('POST', `/mfa/phones/${theirs.body.id}/verify`, { code: '123456' }), 404, 'not_found');
  expectJsonError(await me('POST', `/mfa/destinations/${theirs.body.id}/resend`), 404, 'not_found');
  expectJsonError(await me('DELETE', `/mfa/destinations/${theirs.body.id}`), 404, 'not_found');
  expectJsonError(await me('DELETE', '/mfa/destinations/not-a-uuid'), 404, 'not_found');
});

test('five tries per verification code, and twenty concurrent right answers verify once', async () => {
  const user = await newUser(idp.url, 'dest-tries');
  const me = await signedIn(user.username);
  const phone = nextPhone();
  const added = await me('POST', '/mfa/phones', { phone });
  const { code } = await lastCodeTo(dataDir, phone);
  for (let i = 0; i < 5; i++) expect((await me('POST', `/mfa/phones/${added.body.id}/verify`, { code: otherCode(code) })).status).toBe(401);
  expect((await me('POST', `/mfa/phones/${added.body.id}/verify`, { code })).status).toBe(401);

  clock.advance(31_000);
  expect((await me('POST', `/mfa/phones/${added.body.id}/resend`)).status).toBe(200);
  const fresh = (await lastCodeTo(dataDir, phone)).code;
  const answers = await Promise.all(Array.from({ length: 20 }, () => me('POST', `/mfa/phones/${added.body.id}/verify`, { code: fresh })));
  expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
});

test('adding a phone notifies the verified addresses; an e-mail-only account changes factors after a recent sign-in', async () => {
  const email = `notice-${Date.now()}@example.test`;
  const user = await newUser(idp.url, 'dest-notice', { email, email_verified: true });
  const me = await signedIn(user.username, email);
  const phone = nextPhone();
  const added = await me('POST', '/mfa/phones', { phone });
  expect(added.status).toBe(201);
  expect((await me('POST', `/mfa/phones/${added.body.id}/verify`, { code: (await lastCodeTo(dataDir, phone)).code })).status).toBe(200);
  const notices = (await outbox(dataDir)).filter((m) => m.to === email && m.template === 'destination-added');
  expect(notices).toHaveLength(1);
  expect(notices[0]!.data).toEqual({ type: 'phone', mask: `xxx-xxx-${phone.slice(-4)}` });
});

test('step-up with an SMS code in self-service: send to a destination, the code makes the session fresh, once', async () => {
  const phone = nextPhone();
  const user = await newUser(idp.url, 'dest-stepup', { phone, phone_verified: true });
  const me = await signedIn(user.username, phone);
  clock.advance(301_000);
  expectJsonError(await me('POST', '/mfa/emails', { email: 'later@example.test' }), 403, 'step_up_required');
  const [dest] = (await me('GET', '/mfa/destinations')).body.destinations as { id: string }[];
  const started = await me('POST', '/mfa/sms/verify/begin', { channel: 'sms', destination_id: dest!.id });
  expect(started.status).toBe(200);
  expect(started.body).toMatchObject({ status: 'code_sent', mask: `xxx-xxx-${phone.slice(-4)}` });
  const { code } = await lastCodeTo(dataDir, phone);
  expectJsonError(await me('POST', '/mfa/verify', { code: otherCode(code) }), 401, 'invalid_code');
  const ok = await me('POST', '/mfa/verify', { code });
  expect(ok.body).toEqual({ status: 'success', method: 'sms' });
  expectJsonError(await me('POST', '/mfa/verify', { code }), 401, 'invalid_code');
  expect((await me('POST', '/mfa/emails', { email: 'later@example.test' })).status).toBe(201);
});

test('removing a phone ends SMS and voice for the account, and the session signed in with it', async () => {
  const phone = nextPhone();
  const user = await newUser(idp.url, 'dest-remove', { phone, phone_verified: true });
  const me = await signedIn(user.username, phone);
  const [dest] = (await me('GET', '/mfa/destinations')).body.destinations as { id: string }[];
  expect((await me('DELETE', `/mfa/phones/${dest!.id}`)).status).toBe(204);
  expect((await me('GET', '/mfa/destinations')).status).toBe(401);
  expect((await admin('GET', `/users/${user.id}/destinations`)).body.destinations).toEqual([]);
  const { login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
});

test('admin API: list, add (pending or vouched for), remove; users created with verified contacts get destinations', async () => {
  const phone = nextPhone();
  const created = await admin('POST', '/users', {
    user: {
      external_id: `ext-dest-admin-${seq}`,
      username: `dest-admin-${seq}`,
      password: PASSWORD,
      phone,
      phone_verified: true,
      email: `dest-admin-${seq}@example.test`,
      email_verified: false,
    },
  });
  expect(created.status).toBe(201);
  const id = created.body.user.id as string;
  expect((await admin('GET', `/users/${id}`)).body.user.mfa_methods).toEqual(['sms', 'voice']);
  const listed = await admin('GET', `/users/${id}/destinations`);
  expect(listed.body.destinations).toEqual([expect.objectContaining({ type: 'phone', verified: true, mask: `xxx-xxx-${phone.slice(-4)}` })]);

  const vouched = await admin('POST', `/users/${id}/destinations`, { email: 'Vouched@Example.test', verified: true });
  expect(vouched.status).toBe(201);
  expect(vouched.body).toMatchObject({ type: 'email', verified: true, mask: 'v…d@example.test' });
  const pendingPhone = nextPhone();
  const pending = await admin('POST', `/users/${id}/destinations`, { phone: pendingPhone });
  expect(pending.body).toMatchObject({ verified: false, code_sent: { status: 'code_sent' } });
  expect((await codesTo(dataDir, pendingPhone)).length).toBe(1);
  expectJsonError(await admin('POST', `/users/${id}/destinations`, { phone: pendingPhone, email: 'x@example.test' }), 400, 'invalid_request');
  expectJsonError(await admin('POST', `/users/${id}/destinations`, { phone: '+1 000' }), 400, 'invalid_request');
  expectJsonError(await admin('GET', `/users/${id}/destinations/00000000-0000-4000-8000-000000000000`), 404, 'not_found');
  expect((await admin('DELETE', `/users/${id}/destinations/${pending.body.id}`)).status).toBe(204);
  expect((await admin('GET', `/users/${id}/destinations`)).body.destinations).toHaveLength(2);
  expectJsonError(
    await admin('POST', '/users', { user: { external_id: `ext-bad-${seq}`, username: `bad-${seq}`, phone: '+10000000000', phone_verified: true } }),
    400,
    'invalid_request',
  );
  expectJsonError(await admin('GET', `/users/${id}/destinations`, undefined, null), 401);
  // Vouched for at once by many requests: one destination.
  const racePhone = nextPhone();
  const raced = await Promise.all(Array.from({ length: 8 }, () => admin('POST', `/users/${id}/destinations`, { phone: racePhone, verified: true })));
  expect(raced.filter((r) => r.status === 201)).toHaveLength(1);
  expect(raced.filter((r) => r.status !== 201).map((r) => r.status)).toEqual(Array(7).fill(409));
});
