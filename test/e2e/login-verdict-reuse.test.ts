/**
 * The provider's login Check does not decide again on the resume of a login the MFA service has just
 * finished: it stands on that login's verdict. These tests pin where that stops: a resume followed
 * after the verdict has gone stale, and any other authorization request, are decided in full.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, PASSWORD, beginAuth, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
const clock = new FakeClock();

beforeAll(async () => {
  idp = await startTestIdp('verdict-reuse', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(() => idp.stop());
beforeEach(async () => {
  clock.reset();
  await idp.container.settings.patchGlobal({ mfa: { policy: 'disabled', reauth_interval_minutes: 0 } });
});

/** A password-only login (MFA off) answered, its resume not yet followed; the user has TOTP for when MFA is asked. */
async function finishedLogin(label: string) {
  const user = await newUser(idp.url, label);
  await seedTotp(idp.container, user.id);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
  return { flow, redirectTo: login.body.redirect_to as string };
}

test('the resume of the login just finished reaches the client without a second decision', async () => {
  const { flow, redirectTo } = await finishedLogin('verdict-fresh');
  const { claims } = await flow.complete(redirectTo);
  expect(claims.amr).toEqual(['pwd']);
});

test('a resume followed after the verdict has gone stale is decided again, under the policy in force then', async () => {
  const { flow, redirectTo } = await finishedLogin('verdict-stale');
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any' } });
  clock.advance(2 * MINUTE);
  const landed = await flow.browser.follow(
    new URL(redirectTo, idp.url),
    (u) => u.pathname.startsWith('/interaction/') || u.href.startsWith('http://127.0.0.1:9/'),
  );
  // Had the Check stood on the old verdict, the browser would be at the client with a password-only login.
  expect(landed.pathname).toMatch(/^\/interaction\//);
  expect((await flow.browser.json(landed)).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
});

test('another authorization request in the same browser is decided in full, whatever the login before it', async () => {
  const { flow, redirectTo } = await finishedLogin('verdict-next');
  await flow.complete(redirectTo);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any' } });
  const next = await beginAuth(config, { browser: flow.browser });
  expect(next.interactionUrl).toBeDefined();
  expect((await next.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
});
