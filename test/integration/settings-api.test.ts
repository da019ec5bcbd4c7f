/**
 * Settings API: global and per-organisation settings (PATCH merges,
 * GET answers effective values, 400 names the field), organisations, clients' own mfa_policy, audit.
 */
import { MFA_METHODS } from '../../src/policy/types.js';
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { REDIRECT_URI } from '../helpers/rp.js';

let idp: TestIdp;
let readKey: string;
let writeKey: string;

beforeAll(async () => {
  idp = await startTestIdp('settings-api');
  readKey = (await idp.container.apiKeys.create('reader', ['idp:read'])).key;
  writeKey = (await idp.container.apiKeys.create('writer', ['idp:read', 'idp:write'])).key;
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(() => idp.url);

const expectError = expectJsonError;

const audits = (type: string) => idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).orderBy('id').execute();

describe('global settings', () => {
  test('GET answers the effective defaults (mfa, lockout and risk blocks) with idp:read; no key → 401', async () => {
    const r = await api('GET', '/settings', undefined, readKey);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      mfa: {
        policy: 'any',
        allowed_methods: ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'prompt'],
        enforce_enrollment: false,
        grace_period_seconds: 0,
        required_for_roles: [],
        reauth_interval_minutes: 0,
        trusted_device_duration_days: 0,
      },
      lockout: { max_failures: 5, lock_minutes: [1, 5, 15, 60], mfa_max_failures: 10 },
      networks: { trusted: [], block_unknown: false },
      roles: {},
      risk: { challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [], adaptive: false },
      sessions: {
        session_timeout: 43200,
        idle_timeout: 1800,
        max_concurrent_sessions: 0,
        single_session_mode: false,
        allow_remember_me: true,
        remember_me_duration: 2592000,
        rotate_refresh_tokens: true,
        bind_to_ip: false,
        bind_to_device: false,
      },
      break_glass: { allow_self_approval: false, min_acr: 'aal2' },
      questions: { catalogue: DEFAULT_QUESTIONS, required_answers: 3, asked: 2 },
      recovery: { waiting_period_hours: 24, trusted_contacts_required: 2, trusted_contacts_max: 3 },
      step_webhooks: { enabled: false, subscription_id: null },
      otp: {
        code_ttl_seconds: 300,
        resend_after_seconds: 30,
        sends_per_account_per_hour: 10,
        sends_per_destination_per_10_minutes: 5,
        sends_per_ip_per_10_minutes: 20,
      },
      branding: { display_name: null, logo_url: null, primary_color: null, support_url: null, default_locale: 'en' },
    });
    expectError(await api('GET', '/settings', undefined, null), 401, 'invalid_token');
  });

  test('session_timeout stays within the operator cap (12 h by default); a longer one is a 400 naming the field', async () => {
    expectError(await api('PATCH', '/settings', { sessions: { session_timeout: 43201 } }), 400, 'invalid_request', 'sessions.session_timeout');
    expectError(await api('PATCH', '/settings', { sessions: { remember_me_duration: 2592001 } }), 400, 'invalid_request', 'sessions.remember_me_duration');
    expectError(await api('PATCH', '/settings', { sessions: { bind_to_mac: true } }), 400, 'invalid_request', 'sessions.bind_to_mac');
    const ok = await api('PATCH', '/settings', { sessions: { session_timeout: 3600 } });
    expect(ok.status).toBe(200);
    expect(ok.body.sessions.session_timeout).toBe(3600);
    expect((await api('PATCH', '/settings', { sessions: { session_timeout: 43200 } })).status).toBe(200);
  });

  test('what GET shows can be PATCHed back as it is (the defaults name only methods this server provides)', async () => {
    const shown = await api('GET', '/settings', undefined, readKey);
    const back = await api('PATCH', '/settings', { mfa: shown.body.mfa });
    expect(back.status).toBe(200);
    expect(back.body.mfa).toEqual(shown.body.mfa);
  });

  test('PATCH needs the admin scope', async () => {
    expectError(await api('PATCH', '/settings', { mfa: { reauth_interval_minutes: 5 } }, readKey), 403, 'insufficient_scope');
    expectError(await api('PATCH', '/settings', { mfa: { reauth_interval_minutes: 5 } }, writeKey), 403, 'insufficient_scope');
    expectError(await api('PATCH', '/settings', { mfa: { reauth_interval_minutes: 5 } }, null), 401);
    expect((await api('GET', '/settings')).body.mfa.reauth_interval_minutes).toBe(0);
  });

  test('PATCH merges key by key and GET returns the merged effective values; each change is audited', async () => {
    const first = await api('PATCH', '/settings', { mfa: { trusted_device_duration_days: 7 } });
    expect(first.status).toBe(200);
    expect(first.body.mfa.trusted_device_duration_days).toBe(7);
    const second = await api('PATCH', '/settings', { mfa: { reauth_interval_minutes: 15 }, lockout: { mfa_max_failures: 8 } });
    expect(second.status).toBe(200);
    const got = await api('GET', '/settings', undefined, readKey);
    expect(got.body.mfa).toMatchObject({ policy: 'any', trusted_device_duration_days: 7, reauth_interval_minutes: 15 });
    expect(got.body.lockout).toEqual({ max_failures: 5, lock_minutes: [1, 5, 15, 60], mfa_max_failures: 8 });
    expect(got.body).toEqual(second.body);

    const events = await audits('admin.settings.updated');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toMatchObject({
      outcome: 'success',
      actor: expect.stringMatching(/^apikey:/),
      data: { scope: 'global', changes: { mfa: { reauth_interval_minutes: 15 }, lockout: { mfa_max_failures: 8 } } },
    });
  });

  test.each([
    [{ mfa: { trusted_device_duration_days: 31 } }, 'mfa.trusted_device_duration_days'],
    [{ mfa: { trusted_device_duration_days: -1 } }, 'mfa.trusted_device_duration_days'],
    [{ mfa: { trusted_device_duration_days: 1.5 } }, 'mfa.trusted_device_duration_days'],
    [{ mfa: { trusted_device_duration_days: '7' } }, 'mfa.trusted_device_duration_days'],
    [{ mfa: { policy: 'sometimes' } }, 'mfa.policy'],
    [{ mfa: { allowed_methods: ['totp', 'carrier_pigeon'] } }, 'mfa.allowed_methods.1'],
    [{ mfa: { allowed_methods: [] } }, 'mfa.allowed_methods'],
    [{ mfa: { required_for_roles: ['Admin Role'] } }, 'mfa.required_for_roles.0'],
    [{ mfa: { enforce_enrollment: 'yes' } }, 'mfa.enforce_enrollment'],
    [{ mfa: { grace_period_seconds: 1e12 } }, 'mfa.grace_period_seconds'],
    [{ mfa: { is_admin: true } }, 'mfa.is_admin'],
    [{ lockout: { mfa_max_failures: 101 } }, 'lockout.mfa_max_failures'],
    [{ lockout: { lock_minutes: [] } }, 'lockout.lock_minutes'],
    [{ otp: { code_ttl_seconds: 601 } }, 'otp.code_ttl_seconds'],
    [{ otp: { code_ttl_seconds: 0 } }, 'otp.code_ttl_seconds'],
    [{ otp: { resend_after_seconds: 0 } }, 'otp.resend_after_seconds'],
    [{ otp: { sends_per_account_per_hour: 0 } }, 'otp.sends_per_account_per_hour'],
    [{ otp: { code: '123456' } }, 'otp.code'],
    [{ branding: { logo_url: 'http://cdn.example/logo.png' } }, 'branding.logo_url'],
    [{ branding: { logo_url: 'javascript:alert(1)' } }, 'branding.logo_url'],
    [{ branding: { primary_color: 'red;} body{display:none' } }, 'branding.primary_color'],
    [{ branding: { default_locale: 'xx' } }, 'branding.default_locale'],
    [{ mfa: null }, 'mfa'],
    [{ telemetry: { enabled: true } }, 'settings.telemetry'],
    [[1, 2], 'settings'],
  ])('invalid %j → 400 naming %s, nothing stored', async (patch, field) => {
    const before = await api('GET', '/settings');
    expectError(await api('PATCH', '/settings', patch), 400, 'invalid_request', field);
    expect((await api('GET', '/settings')).body).toEqual(before.body);
  });

  test('a body that is not JSON, or is too large → 400/413 JSON, never 500', async () => {
    expectError(await api('PATCH', '/settings', undefined, ADMIN_KEY, { body: '{"mfa":', type: 'application/json' }), 400);
    const big = await api('PATCH', '/settings', { mfa: { required_for_roles: Array.from({ length: 20_000 }, (_, i) => `r${i}`) } });
    expect([400, 413]).toContain(big.status);
    expect(big.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  });
});

describe('organizations and their settings', () => {
  test('POST /organizations (admin) creates one; duplicates → 409; bad slug → 400 naming the field; wrong scope → 403', async () => {
    const created = await api('POST', '/organizations', { slug: 'acme', name: 'Acme Corp' });
    expect(created.status).toBe(201);
    expect(created.body.organization).toEqual({ id: expect.any(String), slug: 'acme', name: 'Acme Corp', created_at: expect.any(String) });
    expectError(await api('POST', '/organizations', { slug: 'acme', name: 'Again' }), 409, 'conflict');
    expectError(await api('POST', '/organizations', { slug: 'Bad Slug!' }), 400, 'invalid_request', 'slug');
    expectError(await api('POST', '/organizations', { slug: 'x'.repeat(65) }), 400, 'invalid_request', 'slug');
    expectError(await api('POST', '/organizations', { name: 'no slug' }), 400, 'invalid_request', 'slug');
    expectError(await api('POST', '/organizations', { slug: 'extra', settings: {} }), 400, 'invalid_request');
    expectError(await api('POST', '/organizations', { slug: 'writer-org' }, writeKey), 403, 'insufficient_scope');
    expect((await api('GET', '/organizations/acme', undefined, readKey)).body.organization.name).toBe('Acme Corp');
    expectError(await api('GET', '/organizations/nope', undefined, readKey), 404, 'not_found');
    expectError(await api('GET', '/organizations/acme', undefined, null), 401, 'invalid_token');
    const [event] = await audits('admin.organization.created');
    expect(event).toMatchObject({ subject: created.body.organization.id, data: { slug: 'acme' } });
    // The new organisation can hold users.
    const user = await api('POST', '/users', { user: { external_id: 'acme-1', organization: 'acme' } }, writeKey);
    expect(user.status).toBe(201);
  });

  test('organisation PATCH merges over the global layer; GET answers effective values; global stays as it was', async () => {
    await api('POST', '/organizations', { slug: 'globex', name: 'Globex' });
    const before = (await api('GET', '/settings')).body;
    const inherited = await api('GET', '/organizations/globex/settings', undefined, readKey);
    expect(inherited.status).toBe(200);
    expect(inherited.body).toEqual(before);

    const patched = await api('PATCH', '/organizations/globex/settings', {
      mfa: { policy: 'otp', enforce_enrollment: true },
      lockout: { mfa_max_failures: 3 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.mfa).toMatchObject({ policy: 'otp', enforce_enrollment: true, trusted_device_duration_days: before.mfa.trusted_device_duration_days });
    await api('PATCH', '/organizations/globex/settings', { mfa: { grace_period_seconds: 3600 } });
    const got = await api('GET', '/organizations/globex/settings', undefined, readKey);
    expect(got.body.mfa).toMatchObject({ policy: 'otp', enforce_enrollment: true, grace_period_seconds: 3600 });
    expect(got.body.lockout.mfa_max_failures).toBe(3);
    expect((await api('GET', '/settings')).body).toEqual(before);

    // A later global change shows through where the organisation says nothing.
    await api('PATCH', '/settings', { mfa: { reauth_interval_minutes: 30 } });
    expect((await api('GET', '/organizations/globex/settings')).body.mfa).toMatchObject({ policy: 'otp', reauth_interval_minutes: 30 });

    const event = (await audits('admin.settings.updated')).find((e) => (e.data as any).scope === 'organization:globex');
    expect(event).toMatchObject({ organizationId: expect.any(String), data: { changes: { mfa: { policy: 'otp', enforce_enrollment: true } } } });
  });

  test('organisation settings: invalid values → 400 naming the field; unknown organisation → 404; scopes', async () => {
    await api('POST', '/organizations', { slug: 'initech' });
    expectError(
      await api('PATCH', '/organizations/initech/settings', { mfa: { trusted_device_duration_days: 90 } }),
      400,
      'invalid_request',
      'mfa.trusted_device_duration_days',
    );
    expectError(
      await api('PATCH', '/organizations/initech/settings', { mfa: { reauth_interval_minutes: -5 } }),
      400,
      'invalid_request',
      'mfa.reauth_interval_minutes',
    );
    expectError(await api('PATCH', '/organizations/nowhere/settings', { mfa: { policy: 'otp' } }), 404, 'not_found');
    expectError(await api('GET', '/organizations/nowhere/settings'), 404, 'not_found');
    expectError(await api('GET', `/organizations/${encodeURIComponent('../settings')}/settings`), 404);
    expectError(await api('PATCH', '/organizations/initech/settings', { mfa: { policy: 'otp' } }, writeKey), 403, 'insufficient_scope');
    expectError(await api('GET', '/organizations/initech/settings', undefined, null), 401);
    expect((await api('GET', '/organizations/initech/settings', undefined, readKey)).body.mfa.policy).toBe('any');
  });
});

describe("a client's own mfa_policy", () => {
  test.each([
    [{ policy: 'sometimes' }, 'mfa_policy.policy'],
    [{ trusted_device_duration_days: 99 }, 'mfa_policy.trusted_device_duration_days'],
    [{ allowed_methods: ['fax'] }, 'mfa_policy.allowed_methods.0'],
    [{ enforce_enrolment: true }, 'mfa_policy'],
    ['otp', 'mfa_policy'],
  ])('POST /clients with mfa_policy %j → 400 naming %s', async (policy, field) => {
    expectError(await api('POST', '/clients', { redirect_uris: [REDIRECT_URI], mfa_policy: policy }), 400, 'invalid_request', field);
  });

  test.each([
    [{ allowed_methods: ['fax'] }, 'mfa_policy.allowed_methods.0'],
    [{ allowed_methods: ['totp', 'carrier_pigeon'] }, 'mfa_policy.allowed_methods.1'],
  ])('mfa_policy %j naming a method that does not exist → 400 naming %s, on POST and PATCH', async (policy, field) => {
    expectError(await api('POST', '/clients', { redirect_uris: [REDIRECT_URI], mfa_policy: policy }), 400, 'invalid_request', field);
    const ok = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI], mfa_policy: { policy: 'otp' } });
    expectError(await api('PATCH', `/clients/${ok.body.client_id as string}`, { mfa_policy: policy }), 400, 'invalid_request', field);
    expect((await api('GET', `/clients/${ok.body.client_id as string}`)).body.mfa_policy).toEqual({ policy: 'otp' });
  });

  test('a valid policy is stored and shown; PATCH validates too; null clears it', async () => {
    const created = await api('POST', '/clients', { redirect_uris: [REDIRECT_URI], mfa_policy: { policy: 'otp', reauth_interval_minutes: 10 } });
    expect(created.status).toBe(201);
    expect(created.body.mfa_policy).toEqual({ policy: 'otp', reauth_interval_minutes: 10 });
    const id = created.body.client_id as string;
    expectError(await api('PATCH', `/clients/${id}`, { mfa_policy: { grace_period_seconds: -1 } }), 400, 'invalid_request', 'mfa_policy.grace_period_seconds');
    expect((await api('GET', `/clients/${id}`)).body.mfa_policy).toEqual({ policy: 'otp', reauth_interval_minutes: 10 });
    expect((await api('PATCH', `/clients/${id}`, { mfa_policy: null })).body.mfa_policy).toBeNull();
  });
});

describe('methods the server provides', () => {
  // Every method name the API knows has a plug-in here (a name without one is refused: see the settings unit tests).
  test('every registered method can be allowed; an unknown one is a 400 naming the field, nothing stored', async () => {
    expect([...idp.container.factors.methods].sort()).toEqual([...MFA_METHODS].sort());
    const paths = ['/settings', '/organizations/acme/settings'];
    const before = await Promise.all(paths.map(async (path) => (await api('GET', path)).body));
    for (const [i, path] of paths.entries()) {
      expectError(await api('PATCH', path, { mfa: { allowed_methods: ['totp', 'fax'] } }), 400, 'invalid_request', 'mfa.allowed_methods.1');
      expect((await api('GET', path)).body).toEqual(before[i]);
    }
    // The organisation's layer only narrows the global one: the global layer allows them all first.
    for (const path of paths) {
      const all = await api('PATCH', path, { mfa: { allowed_methods: [...MFA_METHODS] } });
      expect(all.status).toBe(200);
      expect([...all.body.mfa.allowed_methods].sort()).toEqual([...MFA_METHODS].sort());
    }
    for (const [i, path] of [...paths.entries()].reverse()) {
      expect((await api('PATCH', path, { mfa: { allowed_methods: before[i].mfa.allowed_methods } })).status).toBe(200);
    }
  });
});
