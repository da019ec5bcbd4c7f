/**
 * Platform MFA API: TOTP set-up and
 * verification, backup codes, the profile's MFA fields, the account's second-factor lockout and
 * the admin unlock, per-user rate limit, admin revocation of trusted devices, and the audit trail.
 */
import { generate } from 'otplib';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { totpCode } from '../helpers/mfa.js';

let idp: TestIdp;
let readKey: string;
let writeKey: string;
const VERIFY_PER_MINUTE = 30;

beforeAll(async () => {
  idp = await startTestIdp('platform-api', 'postgres+redis', { mfa: { attemptsPerChallenge: VERIFY_PER_MINUTE, recentAuthSeconds: 300 } });
  readKey = (await idp.container.apiKeys.create('reader', ['idp:read'])).key;
  writeKey = (await idp.container.apiKeys.create('writer', ['idp:read', 'idp:write', 'idp:mfa:write'])).key;
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(
  () => idp.url,
  () => writeKey,
);

const expectError = expectJsonError;

let n = 0;
async function newUser(extra: Record<string, unknown> = {}) {
  const externalId = `PLAT_USR_${++n}_${Date.now()}`;
  const r = await api('POST', '/users', { user: { external_id: externalId, ...extra } });
  expect(r.status).toBe(201);
  return { externalId, id: r.body.user.id as string };
}

const q = (externalId: string) => `?externalUserId=${encodeURIComponent(externalId)}`;
const startOtp = (externalId: string, key: string | null = writeKey) =>
  api('POST', `/users/otp${q(externalId)}`, { otp: { issuer_name: 'Acme Enterprise', account_name: 'alexander@enterprise.com' } }, key);
const verify = (id: string, code: unknown, key: string | null = writeKey) => api('POST', '/otp/verify', { otp: { id, code } }, key);
const profile = async (externalId: string) => (await api('GET', `/users/profile${q(externalId)}`, undefined, readKey)).body;
const audits = (subject: string, type?: string) => {
  let query = idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', subject);
  if (type) query = query.where('type', '=', type);
  return query.orderBy('id').execute();
};

/** A TOTP already confirmed, with the current step left free for the test. */
async function withTotp() {
  const user = await newUser();
  const started = await startOtp(user.externalId);
  const secret = started.body.user.new_otp_secret as string;
  expect((await verify(user.externalId, await totpCode(secret, -1))).status).toBe(200);
  return { ...user, secret };
}

describe('TOTP set-up and verification', () => {
  test('POST /users/otp → the documented shape, pending until the first valid code; then has_otp', async () => {
    const user = await newUser();
    const r = await startOtp(user.externalId);
    expect(r.status).toBe(200);
    expect(r.res.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toEqual({
      user: {
        external_id: user.externalId,
        new_otp_secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
        qrcode_payload: expect.any(String),
        is_setup_complete: false,
      },
    });
    const uri = new URL(r.body.user.qrcode_payload);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Acme Enterprise:alexander@enterprise.com');
    expect(uri.searchParams.get('secret')).toBe(r.body.user.new_otp_secret);
    expect(uri.searchParams.get('issuer')).toBe('Acme Enterprise');
    expect((await profile(user.externalId)).has_otp).toBe(false);

    const secret = r.body.user.new_otp_secret as string;
    expectError(await verify(user.externalId, '000000' === (await totpCode(secret)) ? '111111' : '000000'), 401, 'invalid_code');
    expect((await profile(user.externalId)).has_otp).toBe(false);

    const code = await totpCode(secret);
    const ok = await verify(user.externalId, code);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'success', id: user.externalId, message: expect.stringMatching(/verified/i) });
    const p = await profile(user.externalId);
    expect(p).toMatchObject({ id: user.id, external_id: user.externalId, status: 'active', has_otp: true, is_locked: false, failed_attempts: 0 });

    // A code is accepted once only; the next step (clock drift of +1) is still fine.
    expectError(await verify(user.externalId, code), 401, 'invalid_code');
    expect((await verify(user.externalId, await totpCode(secret, 1))).status).toBe(200);
    // ±2 steps is outside the window.
    expectError(await verify(user.externalId, await totpCode(secret, 2)), 401, 'invalid_code');

    const types = (await audits(user.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['authn.enrollment.started', 'authn.factor.enrolled', 'authn.mfa.verified', 'authn.mfa.failed']));
    const enrolled = await audits(user.id, 'authn.factor.enrolled');
    expect(enrolled[0]).toMatchObject({ actor: expect.stringMatching(/^apikey:/), data: { method: 'totp', via: 'platform_api' } });
  });

  test('re-enrolment keeps the old secret until the new one is confirmed, then only the new one works', async () => {
    const { externalId, secret: oldSecret } = await withTotp();
    const again = await startOtp(externalId);
    const newSecret = again.body.user.new_otp_secret as string;
    expect(newSecret).not.toBe(oldSecret);
    expect((await profile(externalId)).has_otp).toBe(true);
    expect((await verify(externalId, await totpCode(oldSecret))).status).toBe(200);
    const confirmed = await verify(externalId, await totpCode(newSecret));
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.message).toMatch(/setup is complete/);
    expectError(await verify(externalId, await totpCode(oldSecret, 1)), 401, 'invalid_code');
    expect((await verify(externalId, await totpCode(newSecret, 1))).status).toBe(200);
  });

  test('20 concurrent submissions of one code → exactly one success', async () => {
    const { externalId, secret } = await withTotp();
    const code = await totpCode(secret);
    const results = await Promise.all(Array.from({ length: 20 }, () => verify(externalId, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    // The losers are refused as invalid, or, once enough of them failed, by the rate limit or the MFA lock.
    for (const r of results.filter((x) => x.status !== 200)) {
      expect([401, 429]).toContain(r.status);
      expect(['invalid_code', 'too_many_requests', 'mfa_locked']).toContain(r.body.error);
    }
  });

  test('hostile codes → 400/401 JSON, counted as failures, never 500', async () => {
    await api('POST', '/organizations', { slug: 'hostile' }, ADMIN_KEY);
    await api('PATCH', '/organizations/hostile/settings', { lockout: { mfa_max_failures: 50 } }, ADMIN_KEY);
    const user = await newUser({ organization: 'hostile' });
    const secret = (await startOtp(user.externalId)).body.user.new_otp_secret as string;
    await verify(user.externalId, await totpCode(secret, -1));
    const hostile: unknown[] = [
      '',
      '1234567',
      '12345',
      '１２３４５６',
      ['123456'],
      'x'.repeat(10_000),
      { code: '123456' },
      null,
      123456,
      '12345\n6',
      ' 123456',
    ];
    for (const code of hostile) {
      const r = await verify(user.externalId, code);
      expect([400, 401]).toContain(r.status);
      expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    }
    expect((await profile(user.externalId)).mfa_failed_attempts).toBe(hostile.length);
    // A request without a code at all is a malformed request, not an attempt.
    expectError(await api('POST', '/otp/verify', { otp: { id: user.externalId } }), 400, 'invalid_request', 'otp.code');
    expect((await profile(user.externalId)).mfa_failed_attempts).toBe(hostile.length);
  });

  test('bad input, wrong scope, unknown user', async () => {
    const user = await newUser();
    expectError(await api('POST', '/users/otp', { otp: { issuer_name: 'A', account_name: 'b' } }), 400, 'invalid_request', 'externalUserId');
    expectError(await api('POST', `/users/otp${q(user.externalId)}`, { otp: { account_name: 'b' } }), 400, 'invalid_request', 'otp.issuer_name');
    expectError(
      await api('POST', `/users/otp${q(user.externalId)}`, { otp: { issuer_name: 'A:B', account_name: 'b' } }),
      400,
      'invalid_request',
      'otp.issuer_name',
    );
    expectError(
      await api('POST', `/users/otp${q(user.externalId)}`, { otp: { issuer_name: 'A', account_name: 'b'.repeat(300) } }),
      400,
      'invalid_request',
      'otp.account_name',
    );
    expectError(await api('POST', `/users/otp${q(user.externalId)}`, {}), 400, 'invalid_request', 'otp');
    expectError(await api('POST', '/otp/verify', { otp: { code: '123456' } }), 400, 'invalid_request', 'otp.id');
    expectError(await api('POST', '/otp/verify', { code: '123456' }), 400, 'invalid_request', 'otp');
    expectError(await api('POST', '/users/backup-codes'), 400, 'invalid_request', 'externalUserId');
    expectError(await api('POST', '/users/unlock'), 400, 'invalid_request', 'externalUserId');
    expectError(await api('POST', `/users/unlock?externalUserId=${'x'.repeat(300)}`), 400, 'invalid_request', 'externalUserId');

    expectError(await startOtp(user.externalId, readKey), 403, 'insufficient_scope');
    expectError(await verify(user.externalId, '123456', readKey), 403, 'insufficient_scope');
    expectError(await api('POST', `/users/backup-codes${q(user.externalId)}`, undefined, readKey), 403, 'insufficient_scope');
    expectError(await api('POST', `/users/unlock${q(user.externalId)}`, undefined, readKey), 403, 'insufficient_scope');
    expectError(await startOtp(user.externalId, null), 401, 'invalid_token');
    expectError(await verify(user.externalId, '123456', null), 401, 'invalid_token');

    expectError(await startOtp('NOBODY_HERE'), 404, 'not_found');
    expectError(await verify('NOBODY_HERE', '123456'), 404, 'not_found');
    expectError(await api('POST', `/users/backup-codes${q('NOBODY_HERE')}`), 404, 'not_found');
    expectError(await api('POST', `/users/unlock${q('NOBODY_HERE')}`), 404, 'not_found');
    expect((await profile(user.externalId)).failed_attempts).toBe(0);
  });

  test('a disabled account is refused (403) without checking the code', async () => {
    const { externalId, id, secret } = await withTotp();
    await idp.container.accounts.update(id, { status: 'disabled' });
    expectError(await verify(externalId, await totpCode(secret)), 403, 'account_disabled');
  });
});

describe('backup codes', () => {
  test('10 codes shown once; each works once, normalised; regeneration voids the old set; profile counts them', async () => {
    const user = await newUser();
    const r = await api('POST', `/users/backup-codes${q(user.externalId)}`);
    expect(r.status).toBe(200);
    expect(r.res.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toEqual({ user: { id: user.externalId, backup_codes: expect.any(Array) } });
    const codes = r.body.user.backup_codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect((await profile(user.externalId)).backup_codes_remaining).toBe(10);

    const ok = await verify(user.externalId, codes[0]);
    expect(ok.body).toEqual({ status: 'success', id: user.externalId, message: 'Backup code verified successfully.' });
    expectError(await verify(user.externalId, codes[0]), 401, 'invalid_code');
    expect((await verify(user.externalId, ` ${codes[1]!.toLowerCase().replace('-', ' ')} `)).status).toBe(200);
    expect((await profile(user.externalId)).backup_codes_remaining).toBe(8);

    const fresh = await api('POST', `/users/backup-codes${q(user.externalId)}`);
    expectError(await verify(user.externalId, codes[2]), 401, 'invalid_code');
    expect((await verify(user.externalId, fresh.body.user.backup_codes[0])).status).toBe(200);
    const [regenerated] = await audits(user.id, 'authn.backup_codes.regenerated');
    expect(regenerated).toMatchObject({ data: { count: 10, via: 'platform_api' } });
  });

  test('concurrent use of one backup code → one success', async () => {
    const user = await newUser();
    const [code] = (await api('POST', `/users/backup-codes${q(user.externalId)}`)).body.user.backup_codes as string[];
    const results = await Promise.all(Array.from({ length: 8 }, () => verify(user.externalId, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });
});

describe('lockout, unlock and rate limit', () => {
  test('wrong codes lock the second factor at the organisation threshold (429 while locked); unlock clears it', async () => {
    await api('POST', '/organizations', { slug: 'strict' }, ADMIN_KEY);
    await api('PATCH', '/organizations/strict/settings', { lockout: { mfa_max_failures: 3, lock_minutes: [5] } }, ADMIN_KEY);
    const user = await newUser({ organization: 'strict' });
    const secret = (await startOtp(user.externalId)).body.user.new_otp_secret as string;
    await verify(user.externalId, await totpCode(secret, -1));
    const wrong = async () => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 3600 });

    expectError(await verify(user.externalId, await wrong()), 401, 'invalid_code');
    expectError(await verify(user.externalId, await wrong()), 401, 'invalid_code');
    expect(await profile(user.externalId)).toMatchObject({ is_locked: false, failed_attempts: 2, mfa_failed_attempts: 2 });
    expectError(await verify(user.externalId, await wrong()), 401, 'invalid_code');
    // Locked now: even the right code is refused, and not checked.
    expectError(await verify(user.externalId, await totpCode(secret)), 429, 'mfa_locked');
    const locked = await profile(user.externalId);
    expect(locked).toMatchObject({ is_locked: true, mfa_locked_until: expect.any(String) });
    expect(new Date(locked.mfa_locked_until).getTime()).toBeGreaterThan(Date.now() + 4 * 60_000);
    expect(await audits(user.id, 'authn.mfa.locked')).toHaveLength(1);

    const unlocked = await api('POST', `/users/unlock${q(user.externalId)}`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.body).toEqual({ user: { id: user.id, external_id: user.externalId, status: 'active', is_locked: false } });
    expect(await profile(user.externalId)).toMatchObject({ is_locked: false, failed_attempts: 0, mfa_failed_attempts: 0, mfa_locked_until: null });
    expect((await verify(user.externalId, await totpCode(secret))).status).toBe(200);
    const row = await idp.container.accounts.findById(user.id);
    expect(row).toMatchObject({ mfaFailedAttempts: 0, mfaLockedUntil: null, mfaLockCount: 0 });
    const [event] = await audits(user.id, 'admin.user.unlocked');
    expect(event).toMatchObject({ actor: expect.stringMatching(/^apikey:/), data: { mfa_locked_until: expect.any(String) } });
  });

  test('unlock also clears the password lock and an admin lock status', async () => {
    const user = await newUser({ password: 'a long enough password' });
    await idp.container.accounts.update(user.id, { status: 'locked', failedAttempts: 7, lockedUntil: new Date(Date.now() + 3_600_000) });
    expect(await profile(user.externalId)).toMatchObject({ status: 'locked', is_locked: true, failed_attempts: 7 });
    expect((await api('POST', `/users/unlock${q(user.externalId)}`)).status).toBe(200);
    expect(await profile(user.externalId)).toMatchObject({ status: 'active', is_locked: false, failed_attempts: 0 });
    expect(await idp.container.accounts.findById(user.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    // Unlocking a disabled user does not enable it.
    await idp.container.accounts.update(user.id, { status: 'disabled' });
    expect((await api('POST', `/users/unlock${q(user.externalId)}`)).body.user.status).toBe('disabled');
  });

  test('/otp/verify is rate-limited per user id, before the user is even looked up', async () => {
    const id = `RATE_${Date.now()}`;
    const results = [];
    for (let i = 0; i <= VERIFY_PER_MINUTE; i++) results.push(await verify(id, '123456'));
    expect(results.slice(0, VERIFY_PER_MINUTE).every((r) => r.status === 404)).toBe(true);
    expectError(results.at(-1)!, 429, 'too_many_requests');
    expect(results.at(-1)!.res.headers.get('retry-after')).toBeTruthy();
  });
});

describe('admin: trusted devices', () => {
  test('list and revoke by user id or external id; factor changes revoke every device', async () => {
    const user = await newUser();
    const issue = (name: string) => idp.container.devices.issue(user.id, 30, { name, ip: '203.0.113.9', userAgent: 'Firefox' });
    const { device: laptop } = await issue('Laptop');
    const { device: phone } = await issue('Phone');

    const listed = await api('GET', `/users/${user.id}/devices`, undefined, readKey);
    expect(listed.status).toBe(200);
    expect(listed.body.devices).toHaveLength(2);
    expect(listed.body.devices.find((d: any) => d.id === laptop.id)).toEqual({
      id: laptop.id,
      name: 'Laptop',
      ip: '203.0.113.9',
      user_agent: 'Firefox',
      created_at: expect.any(String),
      last_used_at: expect.any(String),
      expires_at: expect.any(String),
    });
    expect(listed.text).not.toMatch(/token/i);
    expect((await api('GET', `/users/devices${q(user.externalId)}`, undefined, readKey)).body).toEqual(listed.body);

    expectError(await api('DELETE', `/users/${user.id}/devices/${laptop.id}`, undefined, readKey), 403, 'insufficient_scope');
    expect((await api('DELETE', `/users/${user.id}/devices/${laptop.id}`)).status).toBe(204);
    expectError(await api('DELETE', `/users/${user.id}/devices/${laptop.id}`), 404, 'not_found');
    expectError(await api('DELETE', `/users/${user.id}/devices/not-a-uuid`), 404, 'not_found');
    const other = await newUser();
    expectError(await api('DELETE', `/users/${other.id}/devices/${phone.id}`), 404, 'not_found');
    expect((await api('GET', `/users/devices${q(user.externalId)}`)).body.devices.map((d: any) => d.id)).toEqual([phone.id]);
    const [revoked] = await audits(user.id, 'authn.device.revoked');
    expect(revoked).toMatchObject({ actor: expect.stringMatching(/^apikey:/), data: { device_id: laptop.id } });

    expectError(await api('GET', '/users/00000000-0000-4000-8000-000000000000/devices', undefined, readKey), 404, 'not_found');
    expectError(await api('GET', '/users/nobody/devices', undefined, readKey), 404, 'not_found');
    expectError(await api('GET', `/users/devices${q('NOBODY_HERE')}`, undefined, readKey), 404, 'not_found');
    expectError(await api('GET', '/users/devices', undefined, readKey), 400, 'invalid_request', 'externalUserId');
    expectError(await api('GET', `/users/${user.id}/devices`, undefined, null), 401);

    // A factor change (here new backup codes) ends every trusted device.
    await api('POST', `/users/backup-codes${q(user.externalId)}`);
    expect((await api('GET', `/users/${user.id}/devices`, undefined, readKey)).body.devices).toEqual([]);
    await issue('Tablet');
    const { secret } = { secret: (await startOtp(user.externalId)).body.user.new_otp_secret as string };
    expect((await api('GET', `/users/${user.id}/devices`)).body.devices).toHaveLength(1);
    await verify(user.externalId, await totpCode(secret));
    expect((await api('GET', `/users/${user.id}/devices`)).body.devices).toEqual([]);
  });
});

test('metrics count verifications by method and outcome', async () => {
  const text = await idp.container.metrics.registry.metrics();
  expect(text).toMatch(/idp_mfa_challenges_total\{method="totp",outcome="verified"\} \d+/);
  expect(text).toMatch(/idp_mfa_challenges_total\{method="backup_code",outcome="failed"\} \d+/);
});
