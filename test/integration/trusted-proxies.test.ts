import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { discover, oc, registerClient, REDIRECT_URI } from '../helpers/rp.js';

/** Starts an authorization request and posts a wrong password with the given headers; returns the audited IP. */
async function auditedIp(idp: TestIdp, headers: Record<string, string>): Promise<string | null> {
  const client = await registerClient(idp.url, { first_party: true });
  const config = await discover(idp.url, client.client_id, client.client_secret);
  const browser = new Browser();
  const auth = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const res = await browser.fetch(auth);
  const interaction = new URL(res.headers.get('location')!, idp.url);
  const login = await browser.fetch(`${interaction.href}/login`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username: 'nobody', password: 'wrong password' }),
  });
  expect(login.status).toBe(401);
  const [event] = await idp.container.db
    .selectFrom('auditEvents')
    .select('ip')
    .where('type', '=', 'authn.login.failed')
    .orderBy('id', 'desc')
    .limit(1)
    .execute();
  return event!.ip;
}

describe('X-Forwarded-For is believed only from trusted proxies', () => {
  let untrusted: TestIdp;
  let trusted: TestIdp;
  beforeAll(async () => {
    untrusted = await startTestIdp('xff-untrusted', 'postgres+redis', { trustedProxies: ['10.0.0.0/8'] });
    trusted = await startTestIdp('xff-trusted', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'] });
  });
  afterAll(async () => {
    await Promise.all([untrusted.stop(), trusted.stop()]);
  });

  test('a client outside the trusted CIDRs cannot choose its IP', async () => {
    const ip = await auditedIp(untrusted, { 'x-forwarded-for': '203.0.113.9' });
    expect(ip).not.toBe('203.0.113.9');
    expect(ip).toMatch(/127\.0\.0\.1|::1/);
  });

  test('from a trusted proxy, the hop it appended counts, not what the client prepended', async () => {
    expect(await auditedIp(trusted, { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' })).toBe('203.0.113.9');
  });
});
