import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { discover, oc, registerClient, REDIRECT_URI } from '../helpers/rp.js';

/** An authorization request's interaction, and a way to post wrong passwords to it with chosen headers. */
async function interaction(idp: TestIdp) {
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
  const url = new URL(res.headers.get('location')!, idp.url);
  return (headers: Record<string, string>) =>
    browser.fetch(`${url.href}/login`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username: 'nobody', password: 'wrong password' }),
    });
}

/** Starts an authorization request and posts a wrong password with the given headers; returns the audited IP. */
async function auditedIp(idp: TestIdp, headers: Record<string, string>): Promise<string | null> {
  const login = await (await interaction(idp))(headers);
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
    untrusted = await startTestIdp('xff-untrusted', 'postgres+redis', { trustedProxies: ['10.0.0.0/8'], rateLimit: { loginPerIpPerMinute: 8 } });
    trusted = await startTestIdp('xff-trusted', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1', '10.9.0.0/16'] });
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

  test('without a trusted proxy: an unparsable header or a spoofed internal address is ignored', async () => {
    for (const xff of ['a', '10.0.0.1', '127.0.0.1, 10.0.0.1', '::1']) {
      const ip = await auditedIp(untrusted, { 'x-forwarded-for': xff });
      expect(ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      expect(ip).not.toBe(xff);
    }
  });

  test('without a trusted proxy, 1000 rotating X-Forwarded-For values from one socket share one rate-limit budget', async () => {
    const post = await interaction(untrusted);
    const statuses: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const sent = Array.from({ length: 25 }, async (_, j) => {
        const i = batch * 25 + j;
        const res = await post({ 'x-forwarded-for': `198.51.${Math.floor(i / 250)}.${i % 250}` });
        await res.arrayBuffer();
        return res.status;
      });
      statuses.push(...(await Promise.all(sent)));
    }
    // The earlier tests of this file spent some of the same budget of 8 per minute.
    expect(statuses.filter((s) => s !== 429).length).toBeLessThanOrEqual(8);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(992);
  }, 120_000);

  test('behind a chain of trusted proxies, the right-most hop that is not one of them is the client', async () => {
    expect(await auditedIp(trusted, { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 10.9.0.4' })).toBe('203.0.113.9');
    expect(await auditedIp(trusted, { 'x-forwarded-for': '2001:db8::7, 10.9.3.3' })).toBe('2001:db8::7');
  });

  test('an unparsable hop from a trusted proxy makes the address unknown, never the proxy or a hop left of it', async () => {
    expect(await auditedIp(trusted, { 'x-forwarded-for': 'a' })).toBe('unknown');
    expect(await auditedIp(trusted, { 'x-forwarded-for': '10.9.0.1, not-an-ip' })).toBe('unknown');
    expect(await auditedIp(trusted, { 'x-forwarded-for': '203.0.113.9:443' })).toBe('unknown');
  });
});
