import { decodeJwt } from 'jose';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import type { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, discover, oc, passwordSteps, refreshWorks, refreshed, registerClient, silentError } from '../helpers/rp.js';
import { passwordSso, registerSamlSp, spValidates } from '../helpers/saml-flow.js';
import { USER_AGENTS, browserAs, userMaker } from '../helpers/sessions.js';

let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
let config: oc.Configuration;
let clientId: string;
let otherOrgKey: string;
let readOnlyKey: string;
const api = apiClient(() => idp.url);

beforeAll(async () => {
  // The test's requests come from loopback: that is the trusted proxy whose X-Forwarded-For is believed.
  idp = await startTestIdp('sessions-api', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'], rateLimit: { loginPerIpPerMinute: 10_000 } });
  rp = await startLogoutReceiver();
  const client = await registerClient(idp.url, {
    first_party: true,
    client_name: 'Team Portal',
    backchannel_logout_uri: `${rp.url}/backchannel`,
    backchannel_logout_session_required: true,
  });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  const org = await api('POST', '/organizations', { slug: 'elsewhere' });
  expect(org.status).toBe(201);
  otherOrgKey = (await idp.container.apiKeys.create('elsewhere', ['admin'], org.body.organization.id)).key;
  readOnlyKey = (await idp.container.apiKeys.create('reader', ['idp:read'], null)).key;
}, 30_000);
afterAll(async () => {
  await rp.close();
  await idp.stop();
});

const newUser = userMaker(() => idp.url, 'sess-user', 'password');

type Person = Awaited<ReturnType<typeof newUser>>;

/** A sign-in whose refresh token is bound to the session, or (`offline`: consent asked, as offline_access needs) outlives it. */
async function signIn(person: Person, browser: Browser, offline = false) {
  const params: Record<string, string> = offline ? { prompt: 'consent' } : {};
  const { tokens } = await authorize(config, { browser, params, onStep: passwordSteps(person.username, person.password) });
  expect(tokens.refresh_token).toBeTruthy();
  expect((tokens.scope ?? '').split(' ').includes('offline_access')).toBe(offline);
  return tokens;
}

/** Cookie-authenticated writes carry the CSRF token the session's GET /api/v1/me hands out. */
const csrfOf = async (browser: Browser) => (await browser.json(`${idp.url}/api/v1/me`)).body.csrf_token as string;
const send = async (browser: Browser, method: string, path: string, body?: unknown) =>
  browser.json(`${idp.url}/api/v1${path}`, body, method, { 'x-csrf-token': await csrfOf(browser) });

const mySessions = async (browser: Browser) => {
  const r = await browser.json(`${idp.url}/api/v1/me/sessions`);
  expect(r.status).toBe(200);
  return r.body.sessions as any[];
};
const me = async (browser: Browser) => (await browser.json(`${idp.url}/api/v1/me`)).status;
const revokeMine = (browser: Browser, id: string, query = '') => send(browser, 'DELETE', `/me/sessions/${id}${query}`);
const revokedEvents = (userId: string) =>
  idp.container.db
    .selectFrom('auditEvents')
    .select(['actor', 'data'])
    .where('subject', '=', userId)
    .where('type', '=', 'session.revoked')
    .orderBy('id')
    .execute();
const revocationCount = async (by: string, scope: string) =>
  (await idp.container.metrics.sessionRevocations.get()).values.find((v) => v.labels.by === by && v.labels.scope === scope)?.value ?? 0;

test('each browser sees every live session with its device, address, place, relying parties, and which one is its own', async () => {
  const person = await newUser();
  const london = browserAs(USER_AGENTS.chromeMac, '81.2.69.160');
  const local = browserAs(USER_AGENTS.firefoxWindows);
  await signIn(person, london);
  await signIn(person, local);

  const seenFromLondon = await mySessions(london);
  expect(seenFromLondon).toHaveLength(2);
  const [first, second] = seenFromLondon;
  expect(first).toMatchObject({
    device: 'Chrome on macOS',
    ip: '81.2.69.160',
    location: 'London, United Kingdom',
    current: true,
    acr: expect.any(String),
    amr: ['pwd'],
    clients: [{ type: 'oidc', client_id: clientId, client_name: 'Team Portal' }],
  });
  expect(second).toMatchObject({
    device: 'Firefox on Windows',
    ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/),
    location: 'Unknown',
    current: false,
  });
  for (const s of seenFromLondon) {
    expect(Object.keys(s).sort()).toEqual(['acr', 'amr', 'clients', 'created_at', 'current', 'device', 'id', 'ip', 'last_active', 'location']);
    expect(Date.parse(s.created_at)).not.toBeNaN();
    expect(Date.parse(s.last_active)).not.toBeNaN();
  }
  // The other browser sees the same sessions, with itself as the current one.
  const seenLocally = await mySessions(local);
  expect(seenLocally.map((s) => [s.id, s.current])).toEqual([
    [first.id, false],
    [second.id, true],
  ]);

  // Neither the provider's session uid nor any cookie value is ever shown.
  const uids = (await idp.container.db.selectFrom('sessionRecords').select('sessionUid').where('userId', '=', person.id).execute()).map((r) => r.sessionUid);
  expect(uids).toHaveLength(2);
  const shown = JSON.stringify([seenFromLondon, seenLocally]);
  for (const secret of [...uids, ...london.cookies().values(), ...local.cookies().values()]) expect(shown).not.toContain(secret);
});

test('administrators list a user’s sessions (never "current"); another organisation’s key gets the same 404 as a missing user', async () => {
  const person = await newUser();
  await signIn(person, browserAs(USER_AGENTS.chromeMac, '81.2.69.160'));
  await signIn(person, browserAs(USER_AGENTS.firefoxWindows));

  const listed = await api('GET', `/users/${person.id}/sessions`, undefined, readOnlyKey);
  expect(listed.status).toBe(200);
  expect(listed.body.sessions).toHaveLength(2);
  expect(listed.body.sessions.map((s: any) => s.current)).toEqual([false, false]);
  expect(listed.body.sessions[0]).toMatchObject({ device: 'Chrome on macOS', location: 'London, United Kingdom' });

  const missing = await api('GET', `/users/00000000-0000-4000-8000-000000000000/sessions`);
  expectJsonError(missing, 404, 'not_found');
  const foreign = await api('GET', `/users/${person.id}/sessions`, undefined, otherOrgKey);
  expectJsonError(foreign, 404, 'not_found');
  expect(foreign.body).toEqual(missing.body);
  expectJsonError(await api('DELETE', `/users/${person.id}/sessions`, undefined, otherOrgKey), 404, 'not_found');
  expectJsonError(await api('DELETE', `/users/${person.id}/sessions/${listed.body.sessions[0].id}`, undefined, otherOrgKey), 404, 'not_found');
  // Ending sessions is a write.
  expectJsonError(await api('DELETE', `/users/${person.id}/sessions`, undefined, readOnlyKey), 403, 'insufficient_scope');
  expect((await api('GET', `/users/${person.id}/sessions`)).body.sessions).toHaveLength(2);
});

test('ending another of my sessions signs it out everywhere: cookie, silent sign-in, refresh token (offline too), and a logout token to the relying party', async () => {
  const person = await newUser();
  const keep = browserAs(USER_AGENTS.chromeMac);
  const lost = browserAs(USER_AGENTS.firefoxWindows);
  const keptTokens = await signIn(person, keep);
  const lostTokens = await signIn(person, lost, true);
  const [, target] = await mySessions(keep);
  const before = rp.received.length;
  const counted = await revocationCount('user', 'one');

  const r = await revokeMine(keep, target.id);
  expect(r.status).toBe(204);

  expect(await me(lost)).toBe(401);
  expect(await silentError(config, lost)).toBe('login_required');
  expect(await refreshWorks(config, lostTokens.refresh_token!)).toBe(false);
  expect(await me(keep)).toBe(200);
  expect(await refreshWorks(config, keptTokens.refresh_token!)).toBe(true);
  expect((await mySessions(keep)).map((s) => s.id)).not.toContain(target.id);

  const deliveries = (await rp.waitFor(before + 1)).slice(before);
  expect(deliveries).toHaveLength(1);
  const { payload } = await verifyLogoutToken(idp.url, clientId, deliveries[0]!.logoutToken);
  expect(payload.sid).toBe(decodeJwt(lostTokens.id_token!).sid);

  const events = await revokedEvents(person.id);
  expect(events).toEqual([{ actor: `user:${person.id}`, data: { session_id: target.id, reason: 'user_one', keep_app_access: false } }]);
  expect(await revocationCount('user', 'one')).toBe(counted + 1);

  // Gone is gone: a second end of the same session is a 404, and is not audited again.
  expectJsonError(await revokeMine(keep, target.id), 404, 'not_found');
  expect(await revokedEvents(person.id)).toHaveLength(1);
});

test('keep_app_access=true ends the session but keeps the offline grant, which the user can then withdraw on its own', async () => {
  const person = await newUser();
  const browser = browserAs(USER_AGENTS.chromeMac);
  const tokens = await signIn(person, browser, true);
  const other = browserAs(USER_AGENTS.firefoxWindows);
  const online = await signIn(person, other);
  const [, own] = await mySessions(other);

  const apps = await other.json(`${idp.url}/api/v1/me/app-access`);
  expect(apps.status).toBe(200);
  expect(apps.body.app_access).toEqual([
    { client_id: clientId, client_name: 'Team Portal', scopes: expect.arrayContaining(['openid', 'offline_access']), created_at: expect.any(String) },
  ]);

  const [offlineSession] = await mySessions(other);
  expect((await revokeMine(other, offlineSession.id, '?keep_app_access=true')).status).toBe(204);
  expect(await me(browser)).toBe(401);
  const successor = await refreshed(config, tokens.refresh_token!);
  expect(successor).toBeTruthy();
  // A session-bound refresh token is not app access: it goes with its session even so.
  expect((await revokeMine(other, own.id, '?keep_app_access=true')).status).toBe(204);
  expect(await refreshWorks(config, online.refresh_token!)).toBe(false);
  expect((await revokedEvents(person.id))[0]!.data).toMatchObject({ keep_app_access: true });

  // The app's access is withdrawn separately, with every token under it.
  const signedInAgain = browserAs(USER_AGENTS.chromeMac);
  await signIn(person, signedInAgain);
  expectJsonError(await send(signedInAgain, 'DELETE', '/me/app-access/not-a-client'), 404, 'not_found');
  expectJsonError(await send(signedInAgain, 'DELETE', `/me/app-access/${'x'.repeat(3000)}`), 404, 'not_found');
  expect((await send(signedInAgain, 'DELETE', `/me/app-access/${clientId}`)).status).toBe(204);
  expect((await signedInAgain.json(`${idp.url}/api/v1/me/app-access`)).body.app_access).toEqual([]);
  expect(await refreshWorks(config, successor!)).toBe(false);
  const audited = await idp.container.db
    .selectFrom('auditEvents')
    .select('data')
    .where('subject', '=', person.id)
    .where('type', '=', 'user.app_access.revoked')
    .execute();
  expect(audited).toHaveLength(1);
});

test('keep_app_access accepts only true or false', async () => {
  const person = await newUser();
  const browser = browserAs(USER_AGENTS.chromeMac);
  await signIn(person, browser);
  const [own] = await mySessions(browser);
  expectJsonError(await revokeMine(browser, own.id, '?keep_app_access=yes'), 400, 'invalid_request');
  expectJsonError(await revokeMine(browser, own.id, '?other=1'), 400, 'invalid_request');
  expect(await me(browser)).toBe(200);
});

test('ending the current session signs this browser out and drops its cookie', async () => {
  const person = await newUser();
  const browser = browserAs(USER_AGENTS.chromeMac);
  await signIn(person, browser);
  const [own] = await mySessions(browser);
  const r = await revokeMine(browser, own.id);
  expect(r.status).toBe(204);
  expect(r.res.headers.getSetCookie().some((c) => /^_session=;|expires=Thu, 01 Jan 1970/i.test(c))).toBe(true);
  expect(await me(browser)).toBe(401);
  expect(await silentError(config, browser)).toBe('login_required');
});

test('hostile, foreign and unknown session ids are the same 404, never a 500', async () => {
  const person = await newUser();
  const stranger = await newUser();
  const browser = browserAs(USER_AGENTS.chromeMac);
  const strangers = browserAs(USER_AGENTS.firefoxWindows);
  await signIn(person, browser);
  await signIn(stranger, strangers);
  const [theirs] = await mySessions(strangers);
  const ids = [
    theirs.id,
    '00000000-0000-4000-8000-000000000000',
    'not-a-uuid',
    'a'.repeat(5000),
    encodeURIComponent("' or 1=1 --"),
    '%00',
    encodeURIComponent('../../users'),
  ];
  for (const id of ids) {
    expectJsonError(await revokeMine(browser, id), 404, 'not_found');
    expectJsonError(await api('DELETE', `/users/${person.id}/sessions/${id}`), 404, 'not_found');
  }
  for (const id of ['not-a-uuid', 'a'.repeat(5000)]) expectJsonError(await api('GET', `/users/${id}/sessions`), 404, 'not_found');
  expect(await me(strangers)).toBe(200);
  expect(await mySessions(browser)).toHaveLength(1);
});

test('an administrator ends one session, or all of them with every refresh token (offline ones included)', async () => {
  const person = await newUser();
  const [a, b, c] = [browserAs(USER_AGENTS.chromeMac), browserAs(USER_AGENTS.firefoxWindows), browserAs(USER_AGENTS.chromeMac)];
  const tokens = [await signIn(person, a), await signIn(person, b, true), await signIn(person, c)];
  const listed = (await api('GET', `/users/${person.id}/sessions`)).body.sessions;
  expect(listed).toHaveLength(3);

  expect((await api('DELETE', `/users/${person.id}/sessions/${listed[0].id}`)).status).toBe(204);
  expect([await me(a), await me(b), await me(c)]).toEqual([401, 200, 200]);
  expect(await refreshWorks(config, tokens[0]!.refresh_token!)).toBe(false);

  const before = await revocationCount('admin', 'all');
  expect((await api('DELETE', `/users/${person.id}/sessions`)).status).toBe(204);
  expect([await me(b), await me(c)]).toEqual([401, 401]);
  for (const t of tokens.slice(1)) expect(await refreshWorks(config, t.refresh_token!)).toBe(false);
  expect((await api('GET', `/users/${person.id}/sessions`)).body.sessions).toEqual([]);
  expect(await revocationCount('admin', 'all')).toBe(before + 2);
  const events = await revokedEvents(person.id);
  expect(events.map((e) => (e.data as any).reason)).toEqual(['admin_one', 'admin_all', 'admin_all']);
  expect(events.every((e) => e.actor?.startsWith('apikey:'))).toBe(true);
});

test('an administrator ending all sessions with keep_app_access keeps offline refresh tokens only', async () => {
  const person = await newUser();
  const [a, b] = [browserAs(USER_AGENTS.chromeMac), browserAs(USER_AGENTS.firefoxWindows)];
  const offline = await signIn(person, a, true);
  const online = await signIn(person, b);
  expect((await api('DELETE', `/users/${person.id}/sessions?keep_app_access=true`)).status).toBe(204);
  expect([await me(a), await me(b)]).toEqual([401, 401]);
  let current = await refreshed(config, offline.refresh_token!);
  expect(current).toBeTruthy();
  expect(await refreshWorks(config, online.refresh_token!)).toBe(false);
  expect((await api('GET', `/users/${person.id}/app-access`)).body.app_access).toHaveLength(1);

  // The administrator withdraws it too; another organisation's key cannot even see it.
  expectJsonError(await api('GET', `/users/${person.id}/app-access`, undefined, otherOrgKey), 404, 'not_found');
  expectJsonError(await api('DELETE', `/users/${person.id}/app-access/${clientId}`, undefined, otherOrgKey), 404, 'not_found');
  expectJsonError(await api('DELETE', `/users/${person.id}/app-access/${clientId}`, undefined, readOnlyKey), 403, 'insufficient_scope');
  current = await refreshed(config, current!);
  expect(current).toBeTruthy();
  expect((await api('DELETE', `/users/${person.id}/app-access/${clientId}`)).status).toBe(204);
  expect(await refreshWorks(config, current!)).toBe(false);
  expectJsonError(await api('DELETE', `/users/${person.id}/app-access/${clientId}`), 404, 'not_found');
});

test('a session signed in through SAML lists its service provider beside the OIDC clients it then signed into', async () => {
  const person = await newUser();
  const sp = await registerSamlSp(idp.url, 'https://sessions-sp.example');
  const browser = browserAs(USER_AGENTS.firefoxWindows, '81.2.69.160');
  const { form } = await passwordSso(sp.sp, person.username, person.password, browser);
  await spValidates(sp.sp, form);
  // The same session serves the OIDC client without a second login.
  await authorize(config, { browser, onStep: () => Promise.reject(new Error('no login expected')) });

  const [only, ...rest] = await mySessions(browser);
  expect(rest).toEqual([]);
  expect(only).toMatchObject({ device: 'Firefox on Windows', location: 'London, United Kingdom', current: true });
  expect(only.clients).toEqual(
    expect.arrayContaining([
      { type: 'saml', entity_id: 'https://sessions-sp.example' },
      { type: 'oidc', client_id: clientId, client_name: 'Team Portal' },
    ]),
  );
  expect(only.clients).toHaveLength(2);
});

test('of concurrent ends of one session, one succeeds and is audited; the others are 404s', async () => {
  const person = await newUser();
  const keep = browserAs(USER_AGENTS.chromeMac);
  await signIn(person, keep);
  await signIn(person, browserAs(USER_AGENTS.firefoxWindows));
  const [, target] = await mySessions(keep);
  const csrf = await csrfOf(keep);
  const answers = await Promise.all([
    ...Array.from({ length: 4 }, () => keep.json(`${idp.url}/api/v1/me/sessions/${target.id}`, undefined, 'DELETE', { 'x-csrf-token': csrf })),
    ...Array.from({ length: 4 }, () => api('DELETE', `/users/${person.id}/sessions/${target.id}`)),
  ]);
  expect(answers.map((a) => a.status).sort()).toEqual([204, 404, 404, 404, 404, 404, 404, 404]);
  expect(await revokedEvents(person.id)).toHaveLength(1);
  expect(await me(keep)).toBe(200);
});

test('with a first-party Bearer token, the current session is the token’s own; ending it ends the token too', async () => {
  const person = await newUser();
  const browser = browserAs(USER_AGENTS.chromeMac);
  await signIn(person, browser);
  const tokens = await signIn(person, browserAs(USER_AGENTS.firefoxWindows));
  const bearer = (method: string, path: string) =>
    fetch(`${idp.url}/api/v1${path}`, { method, headers: { accept: 'application/json', authorization: `Bearer ${tokens.access_token}` } });

  const listed = (await (await bearer('GET', '/me/sessions')).json()) as { sessions: { id: string; device: string; current: boolean }[] };
  expect(listed.sessions.map((s) => [s.device, s.current])).toEqual([
    ['Chrome on macOS', false],
    ['Firefox on Windows', true],
  ]);
  expect((await bearer('DELETE', `/me/sessions/${listed.sessions[1]!.id}`)).status).toBe(204);
  expect((await bearer('GET', '/me/sessions')).status).toBe(401);
  expect(await me(browser)).toBe(200);
});
