/**
 * What a password + TOTP login costs in PostgreSQL statements, counted on the real server's
 * connections, step by step: each step reads the account once, with its active credentials, and
 * the resume of the finished login does not decide again.
 */
import pg from 'pg';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

let sent: string[] = [];
let counting = false;
const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const originalQuery = proto.query;

beforeAll(async () => {
  proto.query = function countingQuery(this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    if (counting) sent.push((typeof first === 'string' ? first : first?.text ?? '?').replace(/\s+/g, ' '));
    return originalQuery.apply(this, args);
  };
  idp = await startTestIdp('login-steps-traffic', 'postgres+redis');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
});
afterAll(async () => {
  proto.query = originalQuery;
  await idp.stop();
});

async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  sent = [];
  counting = true;
  try {
    return { result: await fn(), statements: sent };
  } finally {
    counting = false;
  }
}

async function totpLogin() {
  const user = await newUser(idp.url, 'steps-traffic');
  const secret = await seedTotp(idp.container, user.id);
  const password = await counted(() => passwordStep(config, user.username, PASSWORD));
  expect(password.result.login.body.status).toBe('mfa_required');
  const { flow } = password.result;
  const totp = await counted(async () => flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) }));
  expect(totp.result.status).toBe(200);
  const resume = await counted(() => flow.complete(totp.result.body.redirect_to));
  expect(resume.result.claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  return { password: password.statements, totp: totp.statements, resume: resume.statements };
}

/** The statement without its parenthesised parts (subqueries, value lists). */
function outer(statement: string): string {
  let s = statement;
  for (let prev = ''; prev !== s;) [prev, s] = [s, s.replace(/\([^()]*\)/g, '')];
  return s;
}

/** Statements that read `table` as their main table (a subquery's table does not count). */
const reads = (statements: string[], table: string) => statements.filter((s) => new RegExp(`^select .*\\bfrom "?(${table})"?( |$)`, 'i').test(outer(s)));

test('each login step reads the account once, with its active credentials; the resume does not decide again', async () => {
  await totpLogin(); // caches and connections warm
  const { password, totp, resume } = await totpLogin();
  // The account and its credential counts in one statement; the TOTP step's account read is its lockout reservation.
  expect(reads(password, 'users')).toHaveLength(1);
  expect(reads(password, 'credentials')).toEqual([]);
  expect(reads(totp, 'users')).toEqual([]);
  expect(reads(totp, 'credentials').filter((s) => /group by kind/.test(s))).toEqual([]);
  // The Check at the resume stands on the verdict the TOTP step reached: no credentials, no authn state read for it.
  expect(reads(resume, 'credentials')).toEqual([]);
  expect(reads(resume, 'authn_states').length).toBeLessThanOrEqual(1);
  // Settings, organisations and clients are cached for a few seconds; on a slow machine a step may find the cache cold.
  const configReads = [...reads(password, 'settings|organizations|clients'), ...reads(totp, 'settings|organizations|clients'), ...reads(resume, 'settings|organizations|clients')];
  const total = password.length + totp.length + resume.length - configReads.length;
  // On failure, the statements sent show where they went.
  expect(total <= 20 ? [] : [...password, '--', ...totp, '--', ...resume]).toEqual([]);
});
