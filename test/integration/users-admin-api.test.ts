/**
 * The users admin API: list and search with opaque cursor pages, read, change (strict: no stored
 * column can be set by naming it, roles only with the admin scope), disable and enable, delete
 * (the audit trail stays), and account recovery (factor reset, temporary password). Another
 * organisation's user, a missing one and an id that is no id are one and the same 404.
 */
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, issueBackupCodes } from '../helpers/mfa.js';

let idp: TestIdp;
const api = apiClient(() => idp.url);
const keys = { reader: '', writer: '', acme: '', acmeAdmin: '', globex: '' };
const orgs = { acme: '', globex: '' };

beforeAll(async () => {
  idp = await startTestIdp('users-admin-api');
  for (const slug of ['acme', 'globex'] as const) {
    const r = await api('POST', '/organizations', { slug });
    expect(r.status).toBe(201);
    orgs[slug] = r.body.organization.id;
  }
  const key = async (name: keyof typeof keys, scopes: string[], org?: keyof typeof orgs) => {
    keys[name] = (await idp.container.apiKeys.create(name, scopes as never, org ? orgs[org] : null)).key;
  };
  await key('reader', ['idp:read']);
  await key('writer', ['idp:read', 'idp:write']);
  await key('acme', ['idp:read', 'idp:write'], 'acme');
  await key('acmeAdmin', ['admin'], 'acme');
  await key('globex', ['idp:read', 'idp:write'], 'globex');
});
afterAll(async () => {
  await idp.stop();
});

let seq = 0;
/** A new user through the API; `org` places it (the bootstrap key reaches every organisation). */
async function user(label: string, extra: Record<string, unknown> = {}): Promise<{ id: string; externalId: string; username: string }> {
  const username = `${label}-${++seq}`;
  const externalId = `EXT-${username}`;
  const r = await api('POST', '/users', {
    user: { external_id: externalId, username, email: `${username}@example.test`, password: 'first password 123', ...extra },
  });
  expect(r.status).toBe(201);
  return { id: r.body.user.id, externalId, username };
}

const auditOf = (subject: string, type?: string) => {
  let q = idp.container.db.selectFrom('auditEvents').select(['type', 'actor', 'data']).where('subject', '=', subject);
  if (type) q = q.where('type', '=', type);
  return q.orderBy('id').execute();
};
const counter = async (action: string) => (await idp.container.metrics.userAdmin.get()).values.find((v) => v.labels.action === action)?.value ?? 0;
const row = (id: string) => idp.container.accounts.findById(id);

/** Every page of a list, following next_cursor; the ids in order. */
async function allPages(query: string, key?: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const r = await api('GET', `/users?${query}${cursor ? `&cursor=${cursor}` : ''}`, undefined, key);
    expect(r.status).toBe(200);
    ids.push(...r.body.users.map((u: { id: string }) => u.id));
    cursor = r.body.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error('too many pages');
}

describe('list and search', () => {
  test('by username, email, external_id and q: exact or prefix (with *), case-insensitive; by status and organization', async () => {
    const a = await user('Searchable-Anna');
    const b = await user('searchable-bob');
    const c = await user('other-carl', { organization: 'acme' });
    const names = async (query: string) => (await api('GET', `/users?${query}`, undefined, keys.reader)).body.users.map((u: { id: string }) => u.id);

    expect(await names(`username=${a.username.toUpperCase()}`)).toEqual([a.id]);
    expect(await names('username=searchable-*')).toEqual([a.id, b.id].sort());
    expect(await names('username=SEARCHABLE*')).toEqual([a.id, b.id].sort());
    expect(await names(`email=${b.username}@EXAMPLE.test`)).toEqual([b.id]);
    expect(await names(`external_id=ext-${c.username}`)).toEqual([c.id]);
    expect(await names(`q=${encodeURIComponent('ext-other-carl*')}`)).toEqual([c.id]);
    expect(await names('q=searchable*')).toEqual([a.id, b.id].sort());
    expect(await names('username=searchable-*&organization=acme')).toEqual([]);
    expect(await names('username=other-carl*&organization=acme')).toEqual([c.id]);
    // LIKE wildcards are plain characters: `%` and `_` match only themselves.
    expect(await names('username=%25*')).toEqual([]);
    expect(await names('username=searchable_anna*')).toEqual([]);

    expect((await api('PATCH', `/users/${b.id}`, { user: { status: 'disabled' } })).status).toBe(200);
    expect(await names('username=searchable*&status=disabled')).toEqual([b.id]);
    expect(await names('username=searchable*&status=active')).toEqual([a.id]);

    const listed = (await api('GET', `/users?username=${a.username}`, undefined, keys.reader)).body.users[0];
    expect(listed).toMatchObject({ id: a.id, external_id: a.externalId, username: a.username, status: 'active', organization: 'default', mfa_methods: [] });
    await enrolTotp(idp.container, a.id);
    await issueBackupCodes(idp.container, a.id);
    const withFactors = (await api('GET', `/users?username=${a.username}`, undefined, keys.reader)).body.users[0];
    expect(withFactors.mfa_methods).toEqual(['backup_code', 'totp']);
    expect(JSON.stringify(withFactors)).not.toMatch(/argon2|hash|secret/i);
  });

  test('pages: limit 50 by default, at most 200 (a larger one is a 400, 1e9 included), opaque cursors, no user twice or skipped when users are inserted meanwhile', async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await user('pager')).id);
    const first = await api('GET', '/users?username=pager*&limit=3', undefined, keys.reader);
    expect(first.body.users).toHaveLength(3);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    // Users created between pages: those already there are each listed once.
    const seen: string[] = first.body.users.map((u: { id: string }) => u.id);
    let cursor = first.body.next_cursor as string | null;
    while (cursor) {
      made.push((await user('pager')).id);
      const r = await api('GET', `/users?username=pager*&limit=3&cursor=${cursor}`, undefined, keys.reader);
      seen.push(...r.body.users.map((u: { id: string }) => u.id));
      cursor = r.body.next_cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(made.slice(0, 7)));
    expect(await allPages('username=pager*&limit=4')).toEqual([...made].sort());

    const all = await api('GET', '/users', undefined, keys.reader);
    expect(all.body.users.length).toBeLessThanOrEqual(50);
    for (const limit of ['201', '1e9', '1000000000', '0', '-1', 'abc', '2.5']) {
      expectJsonError(await api('GET', `/users?limit=${limit}`, undefined, keys.reader), 400, 'invalid_request', 'limit:');
    }
    expect((await api('GET', '/users?limit=200', undefined, keys.reader)).status).toBe(200);
    for (const cursor of [
      'x',
      Buffer.from('users:not-a-uuid').toString('base64url'),
      Buffer.from('other:00000000-0000-0000-0000-000000000000').toString('base64url'),
      '!!',
    ]) {
      expectJsonError(await api('GET', `/users?cursor=${encodeURIComponent(cursor)}`, undefined, keys.reader), 400, 'invalid_request', 'cursor:');
    }
    expectJsonError(await api('GET', '/users?password_hash=x', undefined, keys.reader), 400, 'invalid_request', 'password_hash:');
    expectJsonError(await api('GET', '/users?username=a&username=b', undefined, keys.reader), 400, 'invalid_request', 'username:');
    expectJsonError(await api('GET', '/users?status=deleted', undefined, keys.reader), 400, 'invalid_request', 'status:');
  });

  test("an organisation's key lists only its organisation's users, whatever it asks for", async () => {
    const mine = await user('confined', { organization: 'acme' });
    const theirs = await user('confined', { organization: 'globex' });
    expect(await allPages('username=confined*', keys.acme)).toEqual([mine.id]);
    expect(await allPages('username=confined*&organization=globex', keys.acme)).toEqual([]);
    expect(await allPages('q=confined*', keys.globex)).toEqual([theirs.id]);
    expect(await allPages('username=confined*', keys.reader)).toEqual([mine.id, theirs.id].sort());
  });
});

describe('read', () => {
  test('GET /users/{id}: the user with their MFA state; no password hash or secret', async () => {
    const u = await user('reader-target', { phone: '+14155550100' });
    await enrolTotp(idp.container, u.id);
    const r = await api('GET', `/users/${u.id}`, undefined, keys.reader);
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({
      id: u.id,
      external_id: u.externalId,
      username: u.username,
      email: `${u.username}@example.test`,
      phone: '+14155550100',
      status: 'active',
      has_otp: true,
      mfa_methods: ['totp'],
      organization: 'default',
      temporary_credential_expires_at: null,
    });
    expect(r.text).not.toMatch(/argon2|password_hash|passwordHash|secret/i);
  });

  test("another organisation's user, a missing one and hostile ids: the same 404, never a 500", async () => {
    const theirs = await user('hidden', { organization: 'globex' });
    const missing = '7d3c2b1a-0000-4000-8000-000000000000';
    const bodyOf = async (method: string, id: string, body?: unknown) => {
      const r = await api(method, `/users/${id}`, body, keys.acme);
      expect(r.status).toBe(404);
      return r.body;
    };
    const expected = await bodyOf('GET', missing);
    expect(expected).toEqual({ error: 'not_found', error_description: expect.any(String) });
    const hostile = [
      theirs.id,
      missing,
      'not-a-uuid',
      encodeURIComponent("' or 1=1 --"),
      '%00',
      encodeURIComponent('ü'.repeat(300)),
      theirs.id.toUpperCase() + 'x',
      '..%2F..%2Fetc',
    ];
    for (const id of hostile) {
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { user: { email: 'x@example.test' } }],
        ['DELETE', '', undefined],
        ['POST', '/factors/reset', {}],
        ['POST', '/temporary-password', undefined],
      ] as const) {
        expect(await bodyOf(method, `${id}${suffix}`, body)).toEqual(expected);
      }
    }
    const still = await row(theirs.id);
    expect(still?.email).toBe(`${theirs.username}@example.test`);
    expect(still?.passwordTemporaryUntil).toBeNull();
  });
});

describe('change', () => {
  test('PATCH changes the profile fields; a new address is unverified; conflicts are 409s', async () => {
    const u = await user('patchable', { email_verified: true });
    const other = await user('patch-other');
    const r = await api(
      'PATCH',
      `/users/${u.id}`,
      { user: { email: 'new-address@example.test', phone: '+14155550101', external_id: `${u.externalId}-moved` } },
      keys.writer,
    );
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({
      email: 'new-address@example.test',
      email_verified: false,
      phone: '+14155550101',
      external_id: `${u.externalId}-moved`,
    });
    expect((await api('PATCH', `/users/${u.id}`, { user: { email_verified: true } }, keys.writer)).body.user.email_verified).toBe(true);
    expect((await api('PATCH', `/users/${u.id}`, { user: { phone: null } }, keys.writer)).body.user.phone).toBeNull();
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { username: other.username.toUpperCase() } }, keys.writer), 409, 'conflict', 'user.username:');
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { external_id: other.externalId } }, keys.writer), 409, 'conflict', 'user.external_id:');
    expectJsonError(
      await api('PATCH', `/users/${u.id}`, { user: { username: `${other.username}@example.test` } }, keys.writer),
      400,
      'invalid_request',
      'user.username:',
    );
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: {} }, keys.writer), 400, 'invalid_request', 'user:');
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { email: 'x@example.test' } }, keys.reader), 403, 'insufficient_scope');
    const audit = await auditOf(u.id, 'admin.user.updated');
    expect(audit[0]!.data).toEqual({ fields: ['email', 'external_id', 'phone'] });
  });

  test('mass assignment on PATCH: every stored column that is not a profile field is refused, naming it; nothing changes', async () => {
    const u = await user('mass-patch');
    const before = await row(u.id);
    const known = await (await import('../../src/authn/password.js')).hashPassword('attacker chosen password');
    const fields: Record<string, unknown> = {
      password_hash: known,
      passwordHash: known,
      password: 'attacker chosen password',
      mfa_enrolled: true,
      acr: 'aal3',
      is_admin: true,
      id: '00000000-0000-0000-0000-000000000001',
      failed_attempts: 0,
      locked_until: null,
      organization: 'acme',
      organization_id: orgs.acme,
      password_temporary_until: null,
      created_at: '2000-01-01T00:00:00Z',
      mfa_locked_until: null,
    };
    for (const [field, value] of Object.entries(fields)) {
      expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { email: 'mass@example.test', [field]: value } }), 400, 'invalid_request', `user.${field}:`);
    }
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { status: 'locked' } }), 400, 'invalid_request', 'user.status:');
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { email: 'mass@example.test' }, is_admin: true }), 400, 'invalid_request', 'is_admin:');
    expect(await row(u.id)).toEqual(before);
  });

  test('roles: granting (on POST and PATCH) needs the admin scope, so a key cannot grant more than it holds', async () => {
    const u = await user('roles');
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { roles: ['admin'] } }, keys.writer), 403, 'insufficient_scope');
    expectJsonError(await api('PATCH', `/users/${u.id}`, { user: { roles: [] } }, keys.writer), 403, 'insufficient_scope');
    expect((await row(u.id))?.roles).toEqual([]);
    expectJsonError(await api('POST', '/users', { user: { external_id: 'roles-by-writer', roles: ['admin'] } }, keys.writer), 403, 'insufficient_scope');
    expect(await idp.container.accounts.findByExternalId('roles-by-writer')).toBeUndefined();
    expect((await api('POST', '/users', { user: { external_id: 'roles-empty-by-writer', roles: [] } }, keys.writer)).status).toBe(201);

    expect((await api('PATCH', `/users/${u.id}`, { user: { roles: ['admin', 'staff'] } })).body.user.roles).toEqual(['admin', 'staff']);
    // An organisation's admin key grants roles in its organisation only.
    const acmeUser = await user('roles-acme', { organization: 'acme' });
    expect((await api('PATCH', `/users/${acmeUser.id}`, { user: { roles: ['staff'] } }, keys.acmeAdmin)).status).toBe(200);
    expect((await api('PATCH', `/users/${u.id}`, { user: { roles: [] } }, keys.acmeAdmin)).status).toBe(404);
    expect((await row(u.id))?.roles).toEqual(['admin', 'staff']);
  });

  test('disable and enable: audited and counted; a disabled user cannot sign in', async () => {
    const u = await user('toggle');
    const disabledBefore = await counter('disabled');
    const r = await api('PATCH', `/users/${u.id}`, { user: { status: 'disabled' } }, keys.writer);
    expect(r.status).toBe(200);
    expect(r.body.user.status).toBe('disabled');
    await expect(idp.container.login.passwordLogin({ username: u.username, password: 'first password 123', ip: '192.0.2.1' })).rejects.toMatchObject({
      error: 'invalid_credentials',
    });
    expect((await api('PATCH', `/users/${u.id}`, { user: { status: 'active' } }, keys.writer)).body.user.status).toBe('active');
    await expect(idp.container.login.passwordLogin({ username: u.username, password: 'first password 123', ip: '192.0.2.1' })).resolves.toMatchObject({
      id: u.id,
    });
    expect((await auditOf(u.id)).map((e) => e.type)).toEqual(expect.arrayContaining(['admin.user.disabled', 'admin.user.enabled']));
    expect(await counter('disabled')).toBe(disabledBefore + 1);
  });
});

describe('delete', () => {
  test('removes the user with their factors, devices, risk history and authentication records; the audit trail stays', async () => {
    const u = await user('deleted');
    await enrolTotp(idp.container, u.id);
    await issueBackupCodes(idp.container, u.id);
    await idp.container.devices.issue(u.id, 30, { ip: '192.0.2.1' });
    await idp.container.risk.record({ userId: u.id, ip: '192.0.2.1', at: Date.now() });
    await idp.container.authnStates.put({ accountId: u.id, authTime: 1, amr: ['pwd'] }, { events: [], stepUp: false, trustedDeviceId: null }, 60);
    await idp.container.login.passwordLogin({ username: u.username, password: 'first password 123', ip: '192.0.2.1' });
    const trailBefore = await auditOf(u.id);
    expect(trailBefore.length).toBeGreaterThanOrEqual(2);

    expectJsonError(await api('DELETE', `/users/${u.id}`, undefined, keys.reader), 403, 'insufficient_scope');
    const r = await api('DELETE', `/users/${u.id}`, undefined, keys.writer);
    expect(r.status).toBe(204);
    expect(await row(u.id)).toBeUndefined();
    const db = idp.container.db;
    for (const table of ['credentials', 'trustedDevices', 'riskLogins', 'sessionRecords'] as const) {
      expect(await db.selectFrom(table).select('userId').where('userId', '=', u.id).execute()).toEqual([]);
    }
    expect(await db.selectFrom('authnStates').select('accountId').where('accountId', '=', u.id).execute()).toEqual([]);
    const trailAfter = await auditOf(u.id);
    expect(trailAfter.slice(0, trailBefore.length)).toEqual(trailBefore);
    expect(trailAfter.at(-1)).toMatchObject({ type: 'admin.user.deleted', data: { external_id: u.externalId, sessions_ended: 0 } });
    expect((await api('GET', `/audit-events?subject=${u.id}`)).body.events.length).toBe(trailAfter.length);
    expect((await api('DELETE', `/users/${u.id}`, undefined, keys.writer)).status).toBe(404);
    expect((await api('GET', `/users/${u.id}`)).status).toBe(404);
    // The external id and username are free again.
    expect((await api('POST', '/users', { user: { external_id: u.externalId, username: u.username } })).status).toBe(201);
  });
});

describe('factor reset', () => {
  test('one method: only its credentials go; the others stay; audited with the method; trusted devices revoked', async () => {
    const u = await user('reset-one');
    await enrolTotp(idp.container, u.id);
    await issueBackupCodes(idp.container, u.id);
    await idp.container.devices.issue(u.id, 30, { ip: '192.0.2.1' });
    const before = await counter('factors_reset');
    const r = await api('POST', `/users/${u.id}/factors/reset`, { method: 'totp' }, keys.writer);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { id: u.id }, methods: ['totp'], removed: ['totp'] });
    expect(await idp.container.factors.enrolledMethods(u.id)).toEqual(['backup_code']);
    expect(await idp.container.devices.list(u.id)).toEqual([]);
    const [event] = await auditOf(u.id, 'admin.user.factors_reset');
    expect(event).toMatchObject({ actor: expect.stringMatching(/^apikey:/), data: { via: 'admin_api', methods: ['totp'], removed: ['totp'] } });
    expect(await counter('factors_reset')).toBe(before + 1);
  });

  test('all methods, the last factor included (no "last factor" refusal), and the second-factor lock cleared', async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    try {
      const u = await user('reset-all');
      await enrolTotp(idp.container, u.id);
      await issueBackupCodes(idp.container, u.id);
      // A passkey as its registration stores it: the credential and its WebAuthn facts.
      const passkey = await idp.container.credentials.insert({ userId: u.id, kind: 'passkey', name: 'Key', confirmed: true });
      await idp.container.db
        .insertInto('webauthnCredentials')
        .values({
          id: passkey.id,
          credentialId: `cred-${u.id}`,
          publicKey: Buffer.from('not a real key'),
          transports: ['usb'],
          aaguid: '00000000-0000-0000-0000-000000000000',
          authenticatorName: null,
          backupEligible: false,
          backedUp: false,
          userVerified: true,
          attestationFormat: 'none',
        })
        .execute();
      await idp.container.accounts.update(u.id, { mfaFailedAttempts: 10, mfaLockedUntil: new Date(Date.now() + 3_600_000), mfaLockCount: 2 });
      const r = await api('POST', `/users/${u.id}/factors/reset`, undefined, keys.writer);
      expect(r.status).toBe(200);
      expect(r.body.methods).toEqual(idp.container.factors.methods);
      expect(r.body.removed.sort()).toEqual(['backup_code', 'passkey', 'totp']);
      expect(await idp.container.db.selectFrom('webauthnCredentials').select('id').where('id', '=', passkey.id).execute()).toEqual([]);
      expect(await idp.container.credentials.countActiveByKind(u.id)).toEqual({});
      expect(await idp.container.db.selectFrom('credentials').select('id').where('userId', '=', u.id).execute()).toEqual([]);
      expect(await row(u.id)).toMatchObject({ mfaFailedAttempts: 0, mfaLockedUntil: null, mfaLockCount: 0 });
      // Nothing left: a second reset removes nothing, and says so.
      expect((await api('POST', `/users/${u.id}/factors/reset`, {}, keys.writer)).body.removed).toEqual([]);
    } finally {
      await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: false } });
    }
  });

  test('an unknown method or field is a 400; the scope is idp:write', async () => {
    const u = await user('reset-bad');
    await enrolTotp(idp.container, u.id);
    for (const method of ['fax', 'TOTP', '__proto__', 'constructor', '']) {
      expectJsonError(await api('POST', `/users/${u.id}/factors/reset`, { method }, keys.writer), 400, 'invalid_request', 'method:');
    }
    expectJsonError(await api('POST', `/users/${u.id}/factors/reset`, { method: ['totp'] }, keys.writer), 400, 'invalid_request', 'method:');
    expectJsonError(await api('POST', `/users/${u.id}/factors/reset`, { methods: ['totp'] }, keys.writer), 400, 'invalid_request', 'methods:');
    expectJsonError(await api('POST', `/users/${u.id}/factors/reset`, {}, keys.reader), 403, 'insufficient_scope');
    expect(await idp.container.factors.enrolledMethods(u.id)).toEqual(['totp']);
  });
});

describe('temporary password', () => {
  test('made by the server (any body field is refused), shown once, stored as argon2id, 24 h, clears the password lockout', async () => {
    const u = await user('temp');
    await idp.container.accounts.update(u.id, { failedAttempts: 7, lockedUntil: new Date(Date.now() + 3_600_000) });
    for (const body of [{ password: 'chosen by the admin' }, { temporary_password: 'x' }, { expires_at: '2100-01-01T00:00:00Z' }, { ttl: 1 }]) {
      expectJsonError(await api('POST', `/users/${u.id}/temporary-password`, body, keys.writer), 400, 'invalid_request', Object.keys(body)[0]);
    }
    expectJsonError(await api('POST', `/users/${u.id}/temporary-password`, undefined, keys.reader), 403, 'insufficient_scope');
    expect((await row(u.id))?.passwordTemporaryUntil).toBeNull();

    const before = await counter('temporary_password');
    const r = await api('POST', `/users/${u.id}/temporary-password`, undefined, keys.writer);
    expect(r.status).toBe(201);
    expect(r.res.headers.get('cache-control')).toContain('no-store');
    const { temporary_password: password, expires_at: expiresAt } = r.body;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(Math.abs(Date.parse(expiresAt) - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    const stored = await row(u.id);
    expect(stored).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    expect(stored?.passwordTemporaryUntil?.toISOString()).toBe(expiresAt);
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
    const second = (await api('POST', `/users/${u.id}/temporary-password`, {}, keys.writer)).body.temporary_password;
    expect(second).not.toBe(password);
    // Shown once: neither the audit trail nor a read of the user carries it.
    const trail = JSON.stringify(await auditOf(u.id));
    expect(trail).not.toContain(password);
    expect(trail).not.toContain(second);
    expect((await api('GET', `/users/${u.id}`)).text).not.toContain(second);
    expect(await auditOf(u.id, 'admin.user.temporary_password_issued')).toHaveLength(2);
    expect(await counter('temporary_password')).toBe(before + 2);
    // Only the latest one signs in.
    await expect(idp.container.login.passwordLogin({ username: u.username, password, ip: '192.0.2.1' })).rejects.toMatchObject({
      error: 'invalid_credentials',
    });
    await expect(idp.container.login.passwordLogin({ username: u.username, password: second, ip: '192.0.2.1' })).resolves.toMatchObject({ id: u.id });
  });
});
