import { startTestIdp, type TestIdp } from '../helpers/env.js';
import type { Browser } from '../helpers/browser.js';
import { totpCode } from '../helpers/mfa.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('factor-sessions');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});

const me = async (browser: Browser) => (await browser.json(`${idp.url}/api/v1/me`)).status;
const sessionsOf = async (accountId: string) =>
  (await idp.container.db.selectFrom('oidcPayloads').select('payload').where('model', '=', 'Session').execute()).filter(
    (r) => (r.payload as { accountId?: string }).accountId === accountId,
  ).length;

test("enrolling a factor ends the user's other SSO sessions but not the one making the change (ASVS 5 7.4.3)", async () => {
  const user = await createUser(idp.url, { external_id: 'fcs-1', username: 'fay', password: 'fay password 123' });
  const other = await createUser(idp.url, { external_id: 'fcs-2', username: 'gus', password: 'gus password 123' });
  const { browser: a } = await authorize(config, { onStep: passwordSteps('fay', 'fay password 123') });
  const { browser: b } = await authorize(config, { onStep: passwordSteps('fay', 'fay password 123') });
  const { browser: c } = await authorize(config, { onStep: passwordSteps('gus', 'gus password 123') });
  expect([await me(a), await me(b), await me(c)]).toEqual([200, 200, 200]);
  expect(await sessionsOf(user.id)).toBe(2);

  const enrol = await a.json(`${idp.url}/api/v1/mfa/totp/enroll`, {});
  expect(enrol.status).toBe(200);
  const confirm = await a.json(`${idp.url}/api/v1/mfa/totp/confirm`, { code: await totpCode(enrol.body.secret) });
  expect(confirm.status).toBe(200);

  expect(await me(a)).toBe(200); // the session that enrolled
  expect(await me(b)).toBe(401); // the user's other session ended
  expect(await me(c)).toBe(200); // another user's session untouched
  expect(await sessionsOf(user.id)).toBe(1);
  expect(await sessionsOf(other.id)).toBe(1);
  const audit = await idp.container.db
    .selectFrom('auditEvents')
    .select(['type', 'data'])
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.sessions.ended')
    .execute();
  expect(audit).toHaveLength(1);
  expect(audit[0]!.data).toMatchObject({ count: 1, reason: 'authn.factor.enrolled' });
});
