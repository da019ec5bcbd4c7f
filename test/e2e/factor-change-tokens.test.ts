/**
 * A factor change ends the user's other sessions completely (ASVS 5 7.4.3): the tokens issued
 * through them stop working, and their relying parties hear of it through OpenID Connect
 * Back-Channel Logout 1.0. The session that made the change keeps its tokens.
 */
import { Writable } from 'node:stream';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { createLogger } from '../../src/lib/logger.js';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import type { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { totpCode } from '../helpers/mfa.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient, type StepHandler } from '../helpers/rp.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
let one: { id: string; config: oc.Configuration };
let two: { id: string; config: oc.Configuration };
const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});

/** A first-party client with offline access whose back-channel logout endpoint is `rp.url + path`. */
async function client(path: string) {
  const creds = await registerClient(idp.url, {
    first_party: true,
    backchannel_logout_uri: `${rp.url}${path}`,
    backchannel_logout_session_required: true,
  });
  return { id: creds.client_id, config: await discover(idp.url, creds.client_id, creds.client_secret) };
}

beforeAll(async () => {
  idp = await startTestIdp('factor-tokens', 'postgres+redis', {}, { logger: createLogger('warn', sink) });
  rp = await startLogoutReceiver();
  one = await client('/one');
  two = await client('/two');
  // An RP whose endpoint fails must not stop the change nor the other RPs' logouts.
  rp.answer('/two', 500);
});
afterAll(async () => {
  await rp.close();
  await idp.stop();
});
beforeEach(() => {
  rp.received.length = 0;
  logLines.length = 0;
});

const jwks = () => createRemoteJWKSet(new URL(`${idp.url}/jwks`));
const userinfo = async (accessToken: string) => (await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
const active = async (config: oc.Configuration, token: string) => (await oc.tokenIntrospection(config, token)).active;
// offline_access is granted only with prompt=consent (OpenID Connect Core 1.0 section 11): refresh
// tokens that outlive the session, which ending the session alone would not stop.
const OFFLINE = { prompt: 'consent' };
/** An SSO sign-in: the session exists, only the consent asked for by prompt=consent remains. */
const consentOnly: StepHandler = async ({ step, interactionUrl, browser }) => {
  if (step !== 'consent') throw new Error(`an SSO sign-in asked for ${step}`);
  return (await browser.json(`${interactionUrl.href}/consent`, {})).body.redirect_to as string;
};

const PASSWORD = 'a long enough password';
let n = 0;
async function newUser() {
  const username = `fct${++n}_${Date.now()}`;
  const user = await createUser(idp.url, { external_id: `FCT_${username}`, username, password: PASSWORD });
  return { user, signIn: () => authorize(one.config, { onStep: passwordSteps(username, PASSWORD), params: OFFLINE }) };
}

/** A user signed in twice (two browsers, two SSO sessions) at client one, and session B also at client two. */
async function twoSessions() {
  const { user, signIn } = await newUser();
  const a = await signIn();
  const b = await signIn();
  const b2 = await authorize(two.config, { browser: b.browser, onStep: consentOnly, params: OFFLINE });
  for (const { tokens } of [a, b, b2]) expect(tokens.scope?.split(' ')).toContain('offline_access');
  return { user, a, b, b2 };
}

const idTokenClaims = async (idToken: string) => (await jwtVerify(idToken, jwks(), { issuer: idp.url })).payload;

/** What must hold once session A changed a factor. */
async function expectOnlyChangerLeft(s: Awaited<ReturnType<typeof twoSessions>>) {
  // B's tokens, at both clients, no longer work: refresh, userinfo, introspection.
  await expect(oc.refreshTokenGrant(one.config, s.b.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oc.refreshTokenGrant(two.config, s.b2.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(await userinfo(s.b.tokens.access_token)).toBe(401);
  expect(await userinfo(s.b2.tokens.access_token)).toBe(401);
  expect(await active(one.config, s.b.tokens.access_token)).toBe(false);
  expect(await active(two.config, s.b2.tokens.access_token)).toBe(false);

  // A, the session that made the change, keeps its tokens.
  expect(await userinfo(s.a.tokens.access_token)).toBe(200);
  expect(await active(one.config, s.a.tokens.access_token)).toBe(true);
  const refreshed = await oc.refreshTokenGrant(one.config, s.a.tokens.refresh_token!);
  expect(await userinfo(refreshed.access_token)).toBe(200);

  // Each RP of session B got one signed logout token naming the user and B's session there.
  const deliveries = await rp.waitFor(2);
  expect(deliveries.map((d) => d.path).sort()).toEqual(['/one', '/two']);
  const aSid = (await idTokenClaims(s.a.tokens.id_token!)).sid;
  for (const [path, clientId, tokens] of [
    ['/one', one.id, s.b.tokens],
    ['/two', two.id, s.b2.tokens],
  ] as const) {
    const idToken = await idTokenClaims(tokens.id_token!);
    const { payload } = await verifyLogoutToken(idp.url, clientId, deliveries.find((d) => d.path === path)!.logoutToken);
    expect(payload.events).toEqual({ [BACKCHANNEL_EVENT]: {} });
    expect(payload.sub).toBe(idToken.sub);
    expect(payload.sid).toBe(idToken.sid);
    expect(payload.sid).not.toBe(aSid);
    expect(payload.nonce).toBeUndefined();
    expect(typeof payload.jti).toBe('string');
  }

  // The failing RP is logged, not fatal.
  const failures = logLines.map((l) => JSON.parse(l) as { msg?: string; clientId?: string }).filter((l) => l.msg === 'back-channel logout failed');
  expect(failures.map((l) => l.clientId)).toContain(two.id);

  const audit = await idp.container.db
    .selectFrom('auditEvents')
    .select('data')
    .where('subject', '=', s.user.id)
    .where('type', '=', 'authn.sessions.ended')
    .execute();
  expect(audit).toHaveLength(1);
  expect(audit[0]!.data).toMatchObject({ count: 1 });
}

const selfService = (browser: Browser, path: string, body: unknown) => browser.json(`${idp.url}/api/v1${path}`, body);

test("enrolling TOTP in one session revokes the other session's tokens and logs its RPs out over the back channel", async () => {
  const s = await twoSessions();
  const bystander = await (await newUser()).signIn();
  expect(await userinfo(s.b.tokens.access_token)).toBe(200);
  expect(await active(two.config, s.b2.tokens.access_token)).toBe(true);

  const enrol = await selfService(s.a.browser, '/mfa/totp/enroll', {});
  expect(enrol.status).toBe(200);
  const confirm = await selfService(s.a.browser, '/mfa/totp/confirm', { code: await totpCode(enrol.body.secret) });
  expect(confirm.status).toBe(200);

  await expectOnlyChangerLeft(s);
  // Another user's tokens are untouched.
  expect(await userinfo(bystander.tokens.access_token)).toBe(200);
  expect(rp.received).toHaveLength(2);
});

test('regenerating backup codes in one session does the same', async () => {
  const s = await twoSessions();
  const codes = await selfService(s.a.browser, '/mfa/backup-codes', {});
  expect(codes.status).toBe(200);
  await expectOnlyChangerLeft(s);
});

test('refresh tokens that outlived their session (offline access) are revoked too; the changing session keeps its own', async () => {
  const { signIn } = await newUser();
  const a = await signIn();
  const b = await signIn();
  // B's SSO session ends (idle timeout) while its offline refresh token lives on.
  const bSid = (await idTokenClaims(b.tokens.id_token!)).sid;
  const deleted = await sql`delete from oidc_payloads where model = 'Session' and payload::text like ${`%${String(bSid)}%`}`.execute(idp.container.db);
  expect(Number(deleted.numAffectedRows)).toBe(1);
  const stillWorks = await oc.refreshTokenGrant(one.config, b.tokens.refresh_token!);
  expect(await userinfo(stillWorks.access_token)).toBe(200);

  const codes = await selfService(a.browser, '/mfa/backup-codes', {});
  expect(codes.status).toBe(200);

  await expect(oc.refreshTokenGrant(one.config, stillWorks.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(await userinfo(stillWorks.access_token)).toBe(401);
  const refreshed = await oc.refreshTokenGrant(one.config, a.tokens.refresh_token!);
  expect(await userinfo(refreshed.access_token)).toBe(200);
});
