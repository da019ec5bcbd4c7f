/**
 * Trusted networks, sign-in rules and role layers in real logins behind a trusted proxy (the test
 * plays the proxy: it sets X-Forwarded-For, and the IdP trusts the loopback address): what skips
 * MFA, what never can (a step-up, a role's requirement), what is refused, and what the audit says.
 */
import { Browser } from '../helpers/browser.js';
import { apiClient } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

/** A browser whose every request reaches the IdP through a proxy that appended `ip` to X-Forwarded-For. */
class ProxiedBrowser extends Browser {
  constructor(private readonly forwardedFor: string) {
    super();
  }
  override fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.forwardedFor);
    return super.fetch(input, { ...init, headers });
  }
}

let idp: TestIdp;
let config: oc.Configuration;
const api = apiClient(() => idp.url);

const OFFICE = '203.0.113.0/24';
const OFFICE6 = '2001:db8:1::/48';

beforeAll(async () => {
  idp = await startTestIdp('mfa-networks', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'], rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  const r = await api('PATCH', '/settings', {
    mfa: { policy: 'any', required_for_roles: [] },
    networks: {
      trusted: [
        { name: 'Office', cidr: OFFICE, skip_mfa: true },
        { name: 'Office6', cidr: OFFICE6, skip_mfa: true },
        { name: 'Lab', cidr: '198.51.100.0/25', skip_mfa: false },
      ],
      block_unknown: false,
    },
    roles: { admin: null, ops: null },
  });
  expect(r.status).toBe(200);
});

/** A user with TOTP: any login that is not skipped asks for it. */
async function totpUser(label: string, extra: Record<string, unknown> = {}) {
  const user = await newUser(idp.url, label, extra);
  await seedTotp(idp.container, user.id);
  return user;
}

const loginFrom = (ip: string, username: string, params?: Record<string, string>) =>
  passwordStep(config, username, PASSWORD, { browser: new ProxiedBrowser(ip), params });

const lastEvent = async (type: string, subject: string) =>
  (
    await idp.container.db
      .selectFrom('auditEvents')
      .selectAll()
      .where('type', '=', type)
      .where('subject', '=', subject)
      .orderBy('id', 'desc')
      .limit(1)
      .execute()
  )[0];

describe('trusted networks', () => {
  test('a login from a skip_mfa CIDR skips MFA; the audit names the network', async () => {
    const user = await totpUser('net-office');
    const { flow, login } = await loginFrom('203.0.113.20', user.username);
    expect(login.body).toMatchObject({ status: 'success' });
    const { claims } = await flow.complete(login.body.redirect_to);
    expect(claims.acr).toBe('aal1');
    const event = await lastEvent('authn.login.succeeded', user.id);
    expect(event).toMatchObject({ ip: '203.0.113.20', data: { reasons: ['policy', 'trusted_network'] } });
    expect((event!.data as { sources: unknown[] }).sources).toContainEqual({ source: 'network:Office', outcome: 'skip_mfa' });
  });

  test('the same login with acr_values=aal2 still asks for the second factor', async () => {
    const user = await totpUser('net-stepup');
    const { login } = await loginFrom('203.0.113.20', user.username, { acr_values: 'aal2' });
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test('outside the CIDR, or in a network without skip_mfa, MFA is asked', async () => {
    const user = await totpUser('net-outside');
    expect((await loginFrom('192.0.2.1', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    expect((await loginFrom('198.51.100.3', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test('IPv6: inside the /48 skips, outside asks', async () => {
    const user = await totpUser('net-v6');
    expect((await loginFrom('2001:db8:1:ff::7', user.username)).login.body).toMatchObject({ status: 'success' });
    expect((await loginFrom('2001:db8:2::7', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test('an office address the client wrote left of the real one does not count', async () => {
    const user = await totpUser('net-spoof');
    expect((await loginFrom('203.0.113.20, 192.0.2.1', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test('an unreadable forwarded address never skips MFA', async () => {
    const user = await totpUser('net-garbage');
    expect((await loginFrom('203.0.113.20x', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test("a role's required MFA is asked from the office too", async () => {
    await api('PATCH', '/settings', { mfa: { required_for_roles: ['admin'] } });
    const user = await totpUser('net-admin', { roles: ['admin'] });
    expect((await loginFrom('203.0.113.20', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });

  test('block_unknown refuses logins from outside every trusted network (audited), and from an unreadable address', async () => {
    await api('PATCH', '/settings', { networks: { block_unknown: true } });
    const user = await totpUser('net-block');
    const outside = await loginFrom('192.0.2.1', user.username);
    expect(outside.login.status).toBe(403);
    expect(outside.login.body).toMatchObject({ error: 'access_denied' });
    expect(await lastEvent('authn.login.denied', user.id)).toMatchObject({
      ip: '192.0.2.1',
      data: { reasons: ['network_blocked'], sources: [{ source: 'network:unknown', outcome: 'deny' }] },
    });
    expect((await loginFrom('not-an-ip', user.username)).login.status).toBe(403);
    // Inside a network: the login goes on (the Lab asks MFA, the Office skips it).
    expect((await loginFrom('198.51.100.3', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    expect((await loginFrom('203.0.113.20', user.username)).login.body).toMatchObject({ status: 'success' });
  });

  test('settings refuse a bad CIDR, naming it', async () => {
    for (const cidr of ['203.0.113.0/33', '2001:db8::/129', 'office']) {
      const r = await api('PATCH', '/settings', { networks: { trusted: [{ name: 'Bad', cidr, skip_mfa: true }] } });
      expect(r.status).toBe(400);
      expect(r.body.error_description).toMatch(/^networks\.trusted\.0\.cidr/);
    }
  });
});

describe('role layers', () => {
  test("a role's layer sets the mode for its holders only; the decision names the layer", async () => {
    await api('PATCH', '/settings', { mfa: { policy: 'disabled' }, roles: { ops: { mfa: { policy: 'otp' } } } });
    expect((await api('GET', '/settings')).body.roles).toEqual({ ops: { mfa: { policy: 'otp' } } });
    const ops = await newUser(idp.url, 'role-ops', { roles: ['ops'] });
    const plain = await newUser(idp.url, 'role-plain');
    expect((await loginFrom('192.0.2.1', ops.username)).login.body).toMatchObject({ status: 'mfa_enrollment_required' });
    expect((await loginFrom('192.0.2.1', plain.username)).login.body).toMatchObject({ status: 'success' });
    expect((await lastEvent('authn.login.succeeded', plain.id))!.data).toMatchObject({
      reasons: ['mfa_disabled'],
      sources: [{ source: 'global', key: 'policy' }],
    });
    const challenged = await totpUser('role-ops-totp', { roles: ['ops'] });
    expect((await loginFrom('192.0.2.1', challenged.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    expect((await lastEvent('authn.mfa.challenged', challenged.id))!.data).toMatchObject({ sources: [{ source: 'role:ops', key: 'policy' }] });
  });

  test('a role layer naming a method this server lacks is refused', async () => {
    const r = await api('PATCH', '/settings', { roles: { ops: { mfa: { allowed_methods: ['totp', 'fax'] } } } });
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/^roles\.ops\.mfa\.allowed_methods\.1/);
  });
});

describe('rules in logins', () => {
  const created: string[] = [];
  afterEach(async () => {
    for (const id of created.splice(0)) await api('DELETE', `/policy/rules/${id}`);
  });
  const addRule = async (body: Record<string, unknown>) => {
    const r = await api('POST', '/policy/rules', body);
    expect(r.status).toBe(201);
    created.push(r.body.id);
    return r.body.id as string;
  };

  test('a deny rule refuses the login and the audit names it', async () => {
    const user = await totpUser('rule-deny');
    const id = await addRule({ name: 'deny one', condition: `user.username == "${user.username}"`, outcome: 'deny', priority: 1 });
    expect((await loginFrom('192.0.2.1', user.username)).login.status).toBe(403);
    expect((await lastEvent('authn.login.denied', user.id))!.data).toMatchObject({
      reasons: ['rule_denied'],
      sources: [{ source: `rule:${id}`, outcome: 'deny' }],
    });
  });

  test('a skip rule skips MFA, but a failing rule before it makes it required', async () => {
    const user = await totpUser('rule-skip');
    await addRule({ name: 'skip', condition: `user.username == "${user.username}" && !device_known`, outcome: 'skip_mfa', priority: 20 });
    expect((await loginFrom('192.0.2.1', user.username)).login.body).toMatchObject({ status: 'success' });
    const broken = await addRule({ name: 'broken', condition: 'user.attributes.level == "x"', outcome: 'skip_mfa', priority: 10 });
    expect((await loginFrom('192.0.2.1', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    const data = (await lastEvent('authn.mfa.challenged', user.id))!.data as { sources: unknown[]; reasons: string[] };
    expect(data.reasons).toEqual(['rule_required', 'rule_failed']);
    expect(data.sources).toContainEqual({ source: `rule:${broken}`, outcome: 'require_mfa', error: expect.stringContaining('level') });
  });

  test('a require_mfa rule beats the office network', async () => {
    const user = await totpUser('rule-require');
    await addRule({ name: 'always', condition: `user.username == "${user.username}"`, outcome: 'require_mfa', priority: 1 });
    expect((await loginFrom('203.0.113.20', user.username)).login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  });
});
