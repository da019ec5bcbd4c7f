/**
 * The sign-in rules API and the policy simulator: CRUD, conditions checked when saved (400 naming
 * the problem), organisation-bound keys confined to their organisation's rules, changes audited,
 * and the simulator answering with the login's own engine without writing anything.
 */
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';

let idp: TestIdp;
const api = apiClient(() => idp.url);
const orgs = { acme: '', globex: '' };
const keys = { acme: '', globex: '', reader: '' };

beforeAll(async () => {
  idp = await startTestIdp('policy-rules-api');
  for (const slug of ['acme', 'globex'] as const) orgs[slug] = (await api('POST', '/organizations', { slug })).body.organization.id;
  keys.acme = (await idp.container.apiKeys.create('acme', ['admin'], orgs.acme)).key;
  keys.globex = (await idp.container.apiKeys.create('globex', ['admin'], orgs.globex)).key;
  keys.reader = (await idp.container.apiKeys.create('reader', ['idp:read'], null)).key;
});
afterAll(async () => {
  await idp.stop();
});

const rule = (over: Record<string, unknown> = {}) => ({ name: 'office staff', condition: 'network == "Office"', outcome: 'skip_mfa', priority: 10, ...over });
const audits = (type: string) => idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).orderBy('id').execute();

describe('CRUD', () => {
  test('create, read, list in priority order, update, delete; each change audited', async () => {
    const created = await api('POST', '/policy/rules', rule());
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'office staff',
      condition: 'network == "Office"',
      outcome: 'skip_mfa',
      methods: null,
      min_acr: null,
      priority: 10,
      enabled: true,
      organization_id: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const first = await api(
      'POST',
      '/policy/rules',
      rule({ name: 'admins', condition: '"admin" in user.roles', outcome: 'require_mfa', methods: ['passkey'], min_acr: 'aal3', priority: 1 }),
    );
    expect(first.status).toBe(201);
    const list = await api('GET', '/policy/rules');
    expect(list.body.rules.map((r: { id: string }) => r.id)).toEqual([first.body.id, created.body.id]);
    expect((await api('GET', `/policy/rules/${created.body.id as string}`)).body.name).toBe('office staff');

    const patched = await api('PATCH', `/policy/rules/${created.body.id as string}`, { enabled: false, condition: 'network == "Lab"' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ enabled: false, condition: 'network == "Lab"', outcome: 'skip_mfa' });

    expect((await api('DELETE', `/policy/rules/${created.body.id as string}`)).status).toBe(204);
    expectJsonError(await api('GET', `/policy/rules/${created.body.id as string}`), 404, 'not_found');
    expectJsonError(await api('DELETE', `/policy/rules/${created.body.id as string}`), 404, 'not_found');

    const types = ['admin.policy_rule.created', 'admin.policy_rule.updated', 'admin.policy_rule.deleted'];
    for (const type of types) expect((await audits(type)).some((e) => e.subject === created.body.id)).toBe(true);
    await api('DELETE', `/policy/rules/${first.body.id as string}`);
  });

  test('the admin scope is needed, even to read', async () => {
    expectJsonError(await api('GET', '/policy/rules', undefined, keys.reader), 403, 'insufficient_scope');
    expectJsonError(await api('POST', '/policy/rules', rule(), keys.reader), 403, 'insufficient_scope');
    expectJsonError(await api('POST', '/policy/simulate', { context: { user: {} } }, keys.reader), 403, 'insufficient_scope');
    expectJsonError(await api('GET', '/policy/rules', undefined, null), 401);
  });
});

describe('bad rules are refused with a 400 naming the problem; nothing is stored', () => {
  test.each([
    [{ condition: 'network ==' }, 'condition: Unexpected'],
    [{ condition: 'no_such_variable' }, 'condition: Unknown variable'],
    [{ condition: 'user.email_domain == 1' }, 'condition: no such overload'],
    [{ condition: 'user.username' }, 'condition: must be a bool'],
    [{ condition: 'user.username.matches("(a+)+$")' }, 'condition: matches()'],
    [{ condition: 'user.roles.all(a, user.roles.exists(b, a == b))' }, 'condition: exists() cannot be nested'],
    [{ condition: `${'('.repeat(40)}true${')'.repeat(40)}` }, 'condition: '],
    [{ condition: 'x'.repeat(1001) }, 'condition'],
    [{ outcome: 'maybe' }, 'outcome'],
    [{ outcome: 'skip_mfa', methods: ['totp'] }, 'methods: only a require_mfa rule'],
    [{ outcome: 'deny', min_acr: 'aal2' }, 'min_acr: only a require_mfa rule'],
    [{ methods: ['carrier_pigeon'], outcome: 'require_mfa' }, 'methods.0'],
    [{ priority: 1.5 }, 'priority'],
    [{ extra: true }, 'body'],
  ])('%j', async (over, problem) => {
    const before = (await api('GET', '/policy/rules')).body.rules.length;
    const r = await api('POST', '/policy/rules', rule(over));
    expectJsonError(r, 400, 'invalid_request');
    expect(r.body.error_description).toContain(problem === 'body' ? '' : problem);
    expect((await api('GET', '/policy/rules')).body.rules.length).toBe(before);
  });

  test('a PATCH with a bad condition leaves the rule as it was', async () => {
    const created = await api('POST', '/policy/rules', rule());
    expectJsonError(await api('PATCH', `/policy/rules/${created.body.id as string}`, { condition: 'risk +' }), 400, 'invalid_request', 'condition');
    expectJsonError(await api('PATCH', `/policy/rules/${created.body.id as string}`, { organization_id: orgs.acme }), 400, 'invalid_request');
    expect((await api('GET', `/policy/rules/${created.body.id as string}`)).body.condition).toBe('network == "Office"');
    await api('DELETE', `/policy/rules/${created.body.id as string}`);
  });

  test('a malformed id is refused; an unknown one is 404', async () => {
    expectJsonError(await api('GET', '/policy/rules/not-a-uuid'), 400, 'invalid_request');
    expectJsonError(await api('GET', '/policy/rules/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
  });
});

describe('organisation-bound keys', () => {
  test("see and change only their organisation's rules; another organisation's and global rules answer 404", async () => {
    const global = (await api('POST', '/policy/rules', rule({ name: 'global' }))).body;
    const acme = await api('POST', '/policy/rules', rule({ name: 'acme rule' }), keys.acme);
    expect(acme.status).toBe(201);
    expect(acme.body.organization_id).toBe(orgs.acme);
    const globex = (await api('POST', '/policy/rules', rule({ name: 'globex rule', organization_id: orgs.globex }))).body;
    expect(globex.organization_id).toBe(orgs.globex);

    expect((await api('GET', '/policy/rules', undefined, keys.acme)).body.rules.map((r: { name: string }) => r.name)).toEqual(['acme rule']);
    for (const other of [global.id, globex.id] as string[]) {
      expectJsonError(await api('GET', `/policy/rules/${other}`, undefined, keys.acme), 404, 'not_found');
      expectJsonError(await api('PATCH', `/policy/rules/${other}`, { enabled: false }, keys.acme), 404, 'not_found');
      expectJsonError(await api('DELETE', `/policy/rules/${other}`, undefined, keys.acme), 404, 'not_found');
    }
    expectJsonError(await api('POST', '/policy/rules', rule({ organization_id: orgs.globex }), keys.acme), 404, 'not_found');
    expect((await api('GET', `/policy/rules/${globex.id as string}`)).body.enabled).toBe(true);
    // The operator key sees them all.
    expect((await api('GET', '/policy/rules')).body.rules.length).toBeGreaterThanOrEqual(3);
    expectJsonError(await api('POST', '/policy/rules', rule({ organization_id: '00000000-0000-4000-8000-000000000000' })), 404, 'not_found');
    for (const id of [global.id, acme.body.id, globex.id] as string[]) await api('DELETE', `/policy/rules/${id}`);
  });
});

describe('simulate', () => {
  const context = (over: Record<string, unknown> = {}) => ({
    user: { id: 'u', username: 'ada', email_domain: 'example.com', roles: [], organization: null },
    client: { id: 'portal', first_party: true },
    ip: '198.51.100.4',
    ...over,
  });

  beforeAll(async () => {
    await api('PATCH', '/settings', { networks: { trusted: [{ name: 'Office', cidr: '203.0.113.0/24', skip_mfa: true }], block_unknown: false } });
  });
  afterAll(async () => {
    await api('PATCH', '/settings', { networks: { trusted: [], block_unknown: false } });
  });

  test('answers decide() over the settings and rules in force, and writes nothing', async () => {
    const auditsBefore = (
      await idp.container.db
        .selectFrom('auditEvents')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
    const outside = await api('POST', '/policy/simulate', { context: context(), enrolled: ['totp'] });
    expect(outside.status).toBe(200);
    expect(outside.body).toMatchObject({ decision: { outcome: 'challenge', methods: ['totp'] }, reasons: ['policy'] });

    const office = await api('POST', '/policy/simulate', { context: context({ ip: '203.0.113.9' }), enrolled: ['totp'] });
    expect(office.body).toMatchObject({ decision: { outcome: 'satisfied' }, reasons: ['policy', 'trusted_network'] });
    expect(office.body.sources).toContainEqual({ source: 'network:Office', outcome: 'skip_mfa' });

    const stepUp = await api('POST', '/policy/simulate', { context: context({ ip: '203.0.113.9' }), enrolled: ['totp'], acr_values: 'aal2' });
    expect(stepUp.body.decision).toMatchObject({ outcome: 'challenge', requiredAal: 2 });
    const auditsAfter = (
      await idp.container.db
        .selectFrom('auditEvents')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;
    expect(auditsAfter).toBe(auditsBefore);
  });

  test('rules: first match wins in priority order, and a failing rule counts as require_mfa', async () => {
    const deny = (await api('POST', '/policy/rules', rule({ name: 'night', condition: 'time.hour < 6', outcome: 'deny', priority: 1 }))).body;
    const broken = (await api('POST', '/policy/rules', rule({ name: 'broken', condition: 'user.attributes.dept == "ops"', outcome: 'skip_mfa', priority: 2 })))
      .body;
    const skip = (await api('POST', '/policy/rules', rule({ name: 'everyone', condition: 'true', outcome: 'skip_mfa', priority: 3 }))).body;

    const night = await api('POST', '/policy/simulate', { context: context({ time: { hour: 3, weekday: 2 } }), enrolled: ['totp'] });
    expect(night.body).toMatchObject({
      decision: { outcome: 'deny' },
      reasons: ['rule_denied'],
      sources: [{ source: `rule:${deny.id as string}`, outcome: 'deny' }],
    });

    const day = await api('POST', '/policy/simulate', { context: context({ time: { hour: 10, weekday: 2 } }), enrolled: ['totp'] });
    expect(day.body).toMatchObject({ decision: { outcome: 'challenge' }, reasons: ['rule_required', 'rule_failed'] });
    expect(day.body.sources).toContainEqual({ source: `rule:${broken.id as string}`, outcome: 'require_mfa', error: expect.stringContaining('dept') });

    const withDept = await api('POST', '/policy/simulate', {
      context: context({ time: { hour: 10, weekday: 2 }, user: { ...context().user, attributes: { dept: 'sales' } } }),
      enrolled: ['totp'],
    });
    expect(withDept.body).toMatchObject({ decision: { outcome: 'satisfied' }, reasons: ['policy', 'rule_skipped'] });
    for (const r of [deny, broken, skip]) await api('DELETE', `/policy/rules/${r.id as string}`);
  });

  test("an organisation-bound key simulates its own organisation's users only", async () => {
    const mine = await api('POST', '/policy/simulate', { context: context() }, keys.acme);
    expect(mine.status).toBe(200);
    expectJsonError(
      await api('POST', '/policy/simulate', { context: context({ user: { ...context().user, organization: orgs.globex } }) }, keys.acme),
      404,
      'not_found',
    );
  });

  test('a malformed context is a 400 naming the field', async () => {
    expectJsonError(await api('POST', '/policy/simulate', { context: context({ risk: 2 }) }), 400, 'invalid_request', 'context.risk');
    expectJsonError(
      await api('POST', '/policy/simulate', { context: context({ time: { hour: 24, weekday: 0 } }) }),
      400,
      'invalid_request',
      'context.time.hour',
    );
    expectJsonError(await api('POST', '/policy/simulate', { context: context(), surprise: 1 }), 400, 'invalid_request');
  });
});
