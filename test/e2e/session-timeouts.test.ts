import type { ContainerOptions } from '../../src/container.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { silent } from '../helpers/sessions.js';
import { FakeClock } from '../helpers/mfa-flow.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An IdP with one first-party client and one user, started before the describe block's tests and stopped after. */
function idpWithUser(label: string, username: string, overrides: Record<string, unknown>, opts: ContainerOptions = {}) {
  const env = {
    idp: undefined as unknown as TestIdp,
    config: undefined as unknown as oc.Configuration,
    signIn: () => authorize(env.config, { onStep: passwordSteps(username, `${username} password 123`) }),
  };
  beforeAll(async () => {
    env.idp = await startTestIdp(label, 'postgres+redis', overrides, opts);
    const client = await registerClient(env.idp.url, { first_party: true });
    env.config = await discover(env.idp.url, client.client_id, client.client_secret);
    await createUser(env.idp.url, { external_id: `${label}-1`, username, password: `${username} password 123` });
  });
  afterAll(async () => {
    await env.idp.stop();
  });
  return env;
}

describe('SSO session timeouts (NIST SP 800-63B AAL2: idle and absolute)', () => {
  const env = idpWithUser('session-timeouts', 'sam', { session: { absoluteSeconds: 6, idleSeconds: 3 } });

  test('an idle session ends after the idle timeout', async () => {
    const { browser } = await env.signIn();
    expect(await silent(env.config, browser)).toBe('code');
    await sleep(4000);
    expect(await silent(env.config, browser)).toBe('login_required');
  });

  test('activity does not extend a session past its absolute lifetime', async () => {
    const { browser } = await env.signIn();
    const start = Date.now();
    // Active every second, so the 3-s idle timeout never strikes; only the 6-s lifetime can end it.
    let outcome = 'code';
    let elapsed = 0;
    while (outcome === 'code' && elapsed < 12_000) {
      await sleep(1000);
      outcome = await silent(env.config, browser);
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
  const env = idpWithUser('session-clock', 'sue', {}, { clock });

  test('past session.absoluteSeconds on that clock, a silent request needs a fresh login', async () => {
    const { browser } = await env.signIn();
    expect(await silent(env.config, browser)).toBe('code');
    clock.advance((env.idp.container.config.session.absoluteSeconds + 60) * 1000);
    expect(await silent(env.config, browser)).toBe('login_required');
  });
});
