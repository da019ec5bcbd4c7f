/**
 * Backup codes as the second factor of a real login (B1–B6): normalised input, single use, racing,
 * regeneration, storage as argon2 hashes only, and the same account lockout as the other factors.
 */
import { Redis } from 'ioredis';
import { REDIS_URL, startTestIdp, type TestIdp } from '../helpers/env.js';
import { issueBackupCodes, remainingBackupCodes } from '../helpers/mfa.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('mfa-backup', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 100 } });
});
afterAll(async () => {
  await idp.stop();
});

/** A user with TOTP and a fresh set of backup codes. */
async function userWithCodes(label: string) {
  const user = await newUser(idp.url, label);
  const secret = await seedTotp(idp.container, user.id);
  const codes = await issueBackupCodes(idp.container, user.id);
  return { ...user, secret, codes };
}

async function atChallenge(username: string) {
  const { flow, login } = await passwordStep(config, username, PASSWORD);
  expect(login.status).toBe(200);
  expect(login.body.status).toBe('mfa_required');
  expect(login.body.methods).toEqual(['totp', 'backup_code']);
  return flow;
}

type Flow = Awaited<ReturnType<typeof atChallenge>>;
const backup = (flow: Flow, code: unknown) => flow.post('mfa/backup-code', { code });

test('generation: 10 distinct readable codes of at least 40 bits from the CSPRNG', async () => {
  const { codes } = await userWithCodes('bc-gen');
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  // Crockford base32, 10 symbols = 50 bits, grouped for reading.
  for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
});

test('a backup code typed in lower case with a space instead of the dash signs in: amr has otp and mfa; the same code again is refused (B2, B6)', async () => {
  const user = await userWithCodes('bc-login');
  const code = user.codes[3]!;
  const typed = code.toLowerCase().replace('-', ' ');

  const flow = await atChallenge(user.username);
  const res = await backup(flow, typed);
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(await remainingBackupCodes(idp.container, user.id)).toBe(9);

  // Single use, whatever its spelling.
  const again = await atChallenge(user.username);
  for (const variant of [code, typed, code.replace('-', '')]) {
    const replay = await backup(again, variant);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_code');
  }
  // Another code of the set still works in the same challenge.
  const other = await backup(again, user.codes[4]);
  expect(other.status).toBe(200);
  expect(await remainingBackupCodes(idp.container, user.id)).toBe(8);
});

test('one backup code used in 20 parallel interactions: exactly one success (B3)', async () => {
  const user = await userWithCodes('bc-race');
  const flows = await Promise.all(Array.from({ length: 20 }, () => atChallenge(user.username)));
  const results = await Promise.all(flows.map((f) => backup(f, user.codes[0])));
  expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  expect(results.filter((r) => r.status === 401 && r.body.error === 'invalid_code')).toHaveLength(19);
  const winner = results.findIndex((r) => r.status === 200);
  expect((await flows[winner]!.complete(results[winner]!.body.redirect_to)).claims.acr).toBe('aal2');
  expect(await remainingBackupCodes(idp.container, user.id)).toBe(9);
});

test('regeneration voids every code of the old set (B4)', async () => {
  const user = await userWithCodes('bc-regen');
  const fresh = await issueBackupCodes(idp.container, user.id);
  expect(fresh.some((c) => user.codes.includes(c))).toBe(false);
  expect(await remainingBackupCodes(idp.container, user.id)).toBe(10);

  const flow = await atChallenge(user.username);
  for (const old of user.codes.slice(0, 3)) {
    const res = await backup(flow, old);
    expect(res.status).toBe(401);
  }
  const ok = await backup(flow, fresh[0]);
  expect(ok.status).toBe(200);
});

test('storage: only salted argon2id hashes; no plaintext code in the database, the audit log or Redis (B1)', async () => {
  const user = await userWithCodes('bc-storage');
  // Use one so that a login, its transaction and its audit events exist too.
  const flow = await atChallenge(user.username);
  expect((await backup(flow, user.codes[0]!.toLowerCase())).status).toBe(200);

  const rows = await idp.container.db.selectFrom('credentials').selectAll().where('userId', '=', user.id).where('kind', '=', 'backup_code').execute();
  expect(rows).toHaveLength(10);
  for (const r of rows) {
    expect(r.secretHash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{32,}$/);
    expect(r.secretSealed).toBeNull();
  }
  // Salted: no two hashes share a salt.
  expect(new Set(rows.map((r) => r.secretHash!.split('$')[4])).size).toBe(10);

  const spellings = user.codes.flatMap((c) => [c, c.replace('-', ''), c.toLowerCase(), c.replace('-', '').toLowerCase()]);
  const leaks = (haystack: string) => spellings.filter((s) => haystack.includes(s));
  const allCredentials = await idp.container.db.selectFrom('credentials').selectAll().execute();
  const audit = await idp.container.db.selectFrom('auditEvents').selectAll().execute();
  const ephemeral = await idp.container.db.selectFrom('ephemeralEntries').selectAll().execute();
  expect(leaks(JSON.stringify([allCredentials, audit, ephemeral]))).toEqual([]);

  const redis = new Redis(REDIS_URL);
  try {
    const values: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${idp.name}:*`, 'COUNT', 500);
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') values.push((await redis.get(key)) ?? '');
        else if (type === 'hash') values.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'set') values.push(JSON.stringify(await redis.smembers(key)));
      }
      cursor = next;
    } while (cursor !== '0');
    expect(values.length).toBeGreaterThan(0);
    expect(leaks(values.join('\n'))).toEqual([]);
  } finally {
    redis.disconnect();
  }
});

test('wrong backup codes lock the second factor like wrong TOTP codes: no side door (B5)', async () => {
  await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 3 } });
  try {
    const user = await userWithCodes('bc-lock');
    const flow = await atChallenge(user.username);
    for (const guess of ['AAAAA-AAAAA', 'BBBBB-BBBBB']) expect((await backup(flow, guess)).status).toBe(401);
    // The failure that reaches the threshold locks the factor and ends this login.
    const third = await backup(flow, 'CCCCC-CCCCC');
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('mfa_locked');
    const right = await backup(flow, user.codes[0]);
    expect(right.status).toBe(400);
    expect(right.body.error).toBe('invalid_step');
    // The lock is the account's: TOTP is locked too, in a new interaction.
    const next = await atChallenge(user.username);
    const totp = await next.post('mfa/totp', { code: await codeAt(user.secret, Date.now()) });
    expect(totp.status).toBe(429);
    expect(totp.body.error).toBe('mfa_locked');
    // The code was not spent by the locked attempt.
    expect(await remainingBackupCodes(idp.container, user.id)).toBe(10);
  } finally {
    await idp.container.settings.patchGlobal({ lockout: { mfa_max_failures: 100 } });
  }
});

test('hostile values of the backup-code field → 400/401, never 500, each counted as a failure', async () => {
  const user = await userWithCodes('bc-hostile');
  const flow = await atChallenge(user.username);
  const hostile: unknown[] = [
    '',
    'ABCDE-FGHIJK',
    'ＡＢＣＤＥ-ＦＧＨＪＫ',
    `${user.codes[0]}\n\u0000`,
    [user.codes[0], user.codes[1]],
    { $gt: '' },
    1234567890,
    null,
    'A'.repeat(10_240),
  ];
  const answers = [];
  for (const code of hostile) {
    const res = await backup(flow, code);
    answers.push({ code: JSON.stringify(code).slice(0, 24), status: res.status, error: res.body.error });
  }
  expect(answers.filter((a) => !((a.status === 400 && a.error === 'invalid_request') || (a.status === 401 && a.error === 'invalid_code')))).toEqual([]);
  expect((await idp.container.accounts.findById(user.id))!.mfaFailedAttempts).toBe(hostile.length);
  const tenth = await backup(flow, 'ZZZZZ-ZZZZZ');
  expect(tenth.status).toBe(429);
  expect(tenth.body.error).toBe('too_many_attempts');
  expect(await remainingBackupCodes(idp.container, user.id)).toBe(10);
});
