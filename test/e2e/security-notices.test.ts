/**
 * Security notices: events of the audit trail (a new factor, new backup codes, a replayed TOTP
 * code, a trusted device, a break-glass grant) reach the account's verified e-mail addresses
 * through the mail delivery (read here from the outbox), never with a code in them, capped per user.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSecret } from 'otplib';
import { hmac } from '../../src/lib/crypto.js';
import { activeGrant, breakGlassKeys } from '../helpers/break-glass.js';
import { Browser, jsonCall } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { awayFromStepBoundary, codeAt } from '../helpers/mfa-flow.js';
import { eventually, outbox, type OutboxMessage } from '../helpers/outbox.js';
import { authorize, createUser, discover, oc, registerClient, type StepHandler } from '../helpers/rp.js';
import { patchSettings } from '../helpers/sessions.js';

const PASSWORD = 'a long enough password';
let idp: TestIdp;
let dataDir: string;
let firstParty: oc.Configuration;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'idp-notices-'));
  idp = await startTestIdp('notices', 'postgres+redis', { dataDir });
  await patchSettings(idp.url, undefined, { mfa: { trusted_device_duration_days: 7 } });
  const fp = await registerClient(idp.url, { first_party: true });
  firstParty = await discover(idp.url, fp.client_id, fp.client_secret);
});
afterAll(async () => {
  await idp.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

let n = 0;
async function newUser(extra: Record<string, unknown> = {}) {
  const username = `note${++n}_${process.pid}_${Date.now()}`;
  const email = `${username}@example.test`;
  const user = await createUser(idp.url, { external_id: `N_${username}`, username, email, email_verified: true, password: PASSWORD, ...extra });
  return { id: user.id, username, email };
}

/** A user with a confirmed TOTP credential no step of which is used yet. */
async function withTotp(user: { id: string }) {
  const secret = generateSecret({ length: 20 });
  await idp.container.credentials.insert({ userId: user.id, kind: 'totp', name: 'app', secretSealed: idp.container.box.seal(secret), confirmed: true });
  return secret;
}

/** Password then the given TOTP code; the interaction's answer to the code, and the browser. */
async function signIn(username: string, code: () => Promise<string>, trust = false) {
  const answers: any[] = [];
  const steps: StepHandler = async ({ step, interactionUrl, browser }) => {
    const at = (p: string, b: unknown) => browser.json(`${interactionUrl.href}/${p}`, b);
    if (step === 'consent') return (await at('consent', {})).body.redirect_to;
    let r = await at('login', { username, password: PASSWORD });
    if (r.body.status === 'mfa_required') r = await at('mfa/totp', { code: await code() });
    answers.push(r);
    if (r.body.status === 'trust_device') r = await at('trust-device', { trust, name: 'My laptop' });
    if (r.body.status !== 'success') throw Object.assign(new Error(`sign-in stopped at ${JSON.stringify(r.body)}`), { answers });
    return r.body.redirect_to;
  };
  return authorize(firstParty, { browser: new Browser(), onStep: steps });
}

const to = async (address: string, title?: string) =>
  (await outbox(dataDir)).filter((m) => m.to === address && m.template === 'security-notice' && (title === undefined || m.subject === title));

async function noticeTo(address: string, title: string): Promise<OutboxMessage> {
  const found = await eventually(async () => (await to(address, title))[0]);
  if (!found) throw new Error(`no notice "${title}" to ${address}`);
  return found;
}

const call = (browser: Browser, method: string, path: string, body?: unknown) => jsonCall(browser, `${idp.url}/api/v1`, method, path, body);

test('a new factor and new backup codes: to the verified address and verified e-mail destinations, without the codes', async () => {
  const user = await newUser();
  // A verified e-mail destination gets it too; an unverified one does not.
  const extra = `extra-${user.username}@example.test`;
  const pending = `pending-${user.username}@example.test`;
  for (const [address, confirmed] of [
    [extra, true],
    [pending, false],
  ] as const) {
    await idp.container.credentials.insert({
      userId: user.id,
      kind: 'email',
      name: 'e…e@example.test',
      secretSealed: idp.container.box.seal(address),
      secretHash: hmac('test', address),
      confirmed,
    });
  }
  const { browser } = await signIn(user.username, async () => '');
  const enrol = await call(browser, 'POST', '/mfa/totp/enroll', {});
  await awayFromStepBoundary();
  expect((await call(browser, 'POST', '/mfa/totp/confirm', { code: await codeAt(enrol.body.secret, Date.now(), -1) })).status).toBe(200);
  const added = await noticeTo(user.email, 'A sign-in factor was added to your account');
  expect(added.text).toContain('\nMethod: authenticator app\n');
  await noticeTo(extra, 'A sign-in factor was added to your account');
  expect(await to(pending)).toEqual([]);

  const issued = await call(browser, 'POST', '/mfa/backup-codes', {});
  expect(issued.status).toBe(200);
  const notice = await noticeTo(user.email, 'New backup codes were created for your account');
  const text = JSON.stringify(notice);
  for (const code of issued.body.backup_codes as string[]) expect(text).not.toContain(code);
});

test('an unverified account address gets nothing', async () => {
  const user = await newUser({ email_verified: false });
  const { browser } = await signIn(user.username, async () => '');
  const enrol = await call(browser, 'POST', '/mfa/totp/enroll', {});
  await awayFromStepBoundary();
  expect((await call(browser, 'POST', '/mfa/totp/confirm', { code: await codeAt(enrol.body.secret, Date.now(), -1) })).status).toBe(200);
  await idp.container.notifier.idle();
  expect(await to(user.email)).toEqual([]);
});

test('a replayed TOTP code is refused, audited and told; a trusted device is told', async () => {
  const user = await newUser();
  const secret = await withTotp(user);
  await awayFromStepBoundary();
  const code = await codeAt(secret, Date.now());
  await signIn(user.username, async () => code, true);
  await noticeTo(user.email, 'A device was trusted to skip the second factor');
  const replay = await signIn(user.username, async () => code).catch((err: { answers: any[] }) => err.answers);
  expect(Array.isArray(replay) && replay[0].status).toBe(401);
  const notice = await noticeTo(user.email, 'An authenticator code of yours was used twice');
  expect(JSON.stringify(notice)).not.toContain(code);
  const events = await idp.container.db
    .selectFrom('auditEvents')
    .selectAll()
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.totp.replayed')
    .execute();
  expect(events).toHaveLength(1);
});

test('a break-glass grant approved on the account is told to its owner', async () => {
  const user = await newUser();
  await activeGrant(idp, await breakGlassKeys(idp), user.id);
  await noticeTo(user.email, 'Emergency access was granted on your account');
});

test('per-user cap: at most 10 notices an hour, equal ones collapsed', async () => {
  const user = await newUser();
  const record = (method: string) => idp.container.audit.record({ type: 'authn.factor.enrolled', outcome: 'success', subject: user.id, data: { method } });
  await Promise.all(Array.from({ length: 5 }, () => record('same')));
  await idp.container.notifier.idle();
  expect(await to(user.email)).toHaveLength(1);
  await Promise.all(Array.from({ length: 20 }, (_, i) => record(`m${i}`)));
  await idp.container.notifier.idle();
  expect(await to(user.email)).toHaveLength(10);
  // Another user is not held back by it.
  const other = await newUser();
  await idp.container.audit.record({ type: 'authn.factor.enrolled', outcome: 'success', subject: other.id, data: { method: 'totp' } });
  await noticeTo(other.email, 'A sign-in factor was added to your account');
});

test('a delivery that fails never fails the request', async () => {
  const user = await newUser();
  const { browser } = await signIn(user.username, async () => '');
  const dir = path.join(dataDir, 'outbox');
  await rm(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory');
  try {
    const enrol = await call(browser, 'POST', '/mfa/totp/enroll', {});
    await awayFromStepBoundary();
    expect((await call(browser, 'POST', '/mfa/totp/confirm', { code: await codeAt(enrol.body.secret, Date.now(), -1) })).status).toBe(200);
    await idp.container.notifier.idle();
  } finally {
    await rm(dir, { force: true });
  }
});
