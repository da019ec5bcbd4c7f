import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock } from '../helpers/mfa-flow.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient, REDIRECT_URI } from '../helpers/rp.js';

/** A silent authorization request in this browser: 'code' while the SSO session is valid, else the error. */
async function silent(config: oc.Configuration, browser: Browser): Promise<string> {
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid', prompt: 'none',
    code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const res = await browser.fetch(url);
  const params = new URL(res.headers.get('location')!).searchParams;
  return params.get('code') ? 'code' : params.get('error') ?? 'none';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SSO session timeouts (NIST SP 800-63B AAL2: idle and absolute)', () => {
  let idp: TestIdp;
  let config: oc.Configuration;
  beforeAll(async () => {
    idp = await startTestIdp('session-timeouts', 'postgres+redis', { session: { absoluteSeconds: 6, idleSeconds: 3 } });
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'st-1', username: 'sam', password: 'sam password 123' });
  });
  afterAll(async () => { await idp.stop(); });

  test('an idle session ends after the idle timeout', async () => {
    const { browser } = await authorize(config, { onStep: passwordSteps('sam', 'sam password 123') });
    expect(await silent(config, browser)).toBe('code');
    await sleep(4000);
    expect(await silent(config, browser)).toBe('login_required');
  });

  test('activity does not extend a session past its absolute lifetime', async () => {
    const { browser } = await authorize(config, { onStep: passwordSteps('sam', 'sam password 123') });
    const start = Date.now();
    // Active every second, so the 3-s idle timeout never strikes; only the 6-s lifetime can end it.
    let outcome = 'code';
    let elapsed = 0;
    while (outcome === 'code' && elapsed < 12_000) {
      await sleep(1000);
      outcome = await silent(config, browser);
      elapsed = Date.now() - start;
    }
    expect(outcome).toBe('login_required');
    // Well past the idle timeout (activity renewed it), and no later than the lifetime allows
    // (auth_time is in whole seconds, so the end can come up to a second early).
    expect(elapsed).toBeGreaterThan(4_500);
    expect(elapsed).toBeLessThan(9_000);
  });
});

describe('the absolute lifetime is measured on the IdP clock that stamped the login', () => {
  const clock = new FakeClock();
  let idp: TestIdp;
  let config: oc.Configuration;
  beforeAll(async () => {
    idp = await startTestIdp('session-clock', 'postgres+redis', {}, { clock });
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'sc-1', username: 'sue', password: 'sue password 123' });
  });
  afterAll(async () => { await idp.stop(); });

  test('past session.absoluteSeconds on that clock, a silent request needs a fresh login', async () => {
    const { browser } = await authorize(config, { onStep: passwordSteps('sue', 'sue password 123') });
    expect(await silent(config, browser)).toBe('code');
    clock.advance((idp.container.config.session.absoluteSeconds + 60) * 1000);
    expect(await silent(config, browser)).toBe('login_required');
  });
});
