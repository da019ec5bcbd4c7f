/**
 * Adaptive MFA: with `risk.adaptive` on, each new sign-in is scored by the risk engine. A challenge
 * asks for the second factor even where the policy, a trusted network or a trusted device would
 * not; it never makes a user without a factor enrol one (whoever holds only the password must not
 * add a factor); a deny refuses the sign-in. Off by default: nothing changes until an operator turns it on.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('mfa-adaptive-risk', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'disabled' },
    risk: { adaptive: false, challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [] },
  });
});

const latest = async (type: string, subject: string) =>
  idp.container.db.selectFrom('auditEvents').selectAll().where('type', '=', type).where('subject', '=', subject).orderBy('id', 'desc').executeTakeFirst();

test('off by default: MFA disabled by policy means the password alone', async () => {
  const user = await newUser(idp.url, 'risk-off');
  await seedTotp(idp.container, user.id);
  const { login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
  expect(await idp.container.db.selectFrom('riskLogins').selectAll().where('userId', '=', user.id).execute()).toEqual([]);
});

test('on: a first sign-in without history is a challenge, so the second factor is asked although the policy says none', async () => {
  await idp.container.settings.patchGlobal({ risk: { adaptive: true } });
  const user = await newUser(idp.url, 'risk-challenge');
  const secret = await seedTotp(idp.container, user.id);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body).toMatchObject({ status: 'mfa_required', methods: ['totp'] });
  const challenged = await latest('authn.mfa.challenged', user.id);
  expect(JSON.stringify(challenged?.data)).toContain('risk_challenge');
  const done = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
  expect(done.body.status).toBe('success');
  const { claims } = await flow.complete(done.body.redirect_to);
  expect(claims.acr).toBe('aal2');
  // The sign-in that succeeded is kept as history for the next one.
  expect(await idp.container.db.selectFrom('riskLogins').selectAll().where('userId', '=', user.id).execute()).toHaveLength(1);
});

test('on: a challenge never makes a user without a factor enrol one', async () => {
  await idp.container.settings.patchGlobal({ risk: { adaptive: true } });
  const user = await newUser(idp.url, 'risk-no-factor');
  const { login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
});

test('on: an address on the deny list is refused, whatever the password', async () => {
  await idp.container.settings.patchGlobal({ risk: { adaptive: true, deny_list: ['127.0.0.0/8', '::1/128'] } });
  const user = await newUser(idp.url, 'risk-deny');
  const { login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.status).toBe(403);
  expect(login.body).toMatchObject({ error: 'access_denied' });
  const denied = await latest('authn.login.denied', user.id);
  expect(JSON.stringify(denied?.data)).toContain('risk_denied');
});
