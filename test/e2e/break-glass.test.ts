/**
 * Break-glass grants seen from a relying party (openid-client, real logins, tokens verified against
 * the published keys): while a grant is active, tokens from a login that reached the organisation's
 * `break_glass.min_acr` carry it, and nothing else does; it ends by the clock alone; revoking it
 * ends the user's sessions with back-channel logout; every issuance carrying it is audited.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startLogoutReceiver } from '../helpers/backchannel.js';
import { activeGrant, breakGlassKeys, refuseBreakGlassAudit } from '../helpers/break-glass.js';
import { apiClient } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock, PASSWORD, awayFromStepBoundary, beginAuth, codeAt, newUser, passwordStep, plantCookie, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;
let config: oc.Configuration;
let clientId: string;
let keys: Awaited<ReturnType<typeof breakGlassKeys>>;
const clock = new FakeClock();
const api = apiClient(() => idp.url);
const jwks = () => createRemoteJWKSet(new URL(`${idp.url}/jwks`));

beforeAll(async () => {
  idp = await startTestIdp('break-glass-e2e', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  rp = await startLogoutReceiver();
  // MFA is off for this organisation: without a grant a password alone signs in, so what asks for more is the grant.
  expect((await api('POST', '/organizations', { slug: 'calm' })).status).toBe(201);
  expect((await api('PATCH', '/organizations/calm/settings', { mfa: { policy: 'disabled' } })).status).toBe(200);
  // The same, but a grant asks for aal3 here.
  expect((await api('POST', '/organizations', { slug: 'strict' })).status).toBe(201);
  const strict = { mfa: { policy: 'disabled' }, break_glass: { min_acr: 'aal3' } };
  expect((await api('PATCH', '/organizations/strict/settings', strict)).status).toBe(200);
  // Here MFA is asked, and a trusted device skips it for 30 days.
  expect((await api('POST', '/organizations', { slug: 'trusting' })).status).toBe(201);
  expect((await api('PATCH', '/organizations/trusting/settings', { mfa: { policy: 'any', trusted_device_duration_days: 30 } })).status).toBe(200);
  const client = await registerClient(idp.url, {
    first_party: true,
    backchannel_logout_uri: `${rp.url}/backchannel`,
    backchannel_logout_session_required: true,
  });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  keys = await breakGlassKeys(idp);
});
afterAll(async () => {
  await rp.close();
  await idp.stop();
});
afterEach(() => clock.reset());

async function totpUser(label: string, organization = 'calm') {
  const user = await newUser(idp.url, label, { organization });
  return { ...user, secret: await seedTotp(idp.container, user.id) };
}

/** A login with password then TOTP (asserting the challenge): the relying party's tokens. */
async function mfaLogin(user: { username: string; secret: string }, params: Record<string, string> = {}, scope = 'openid offline_access') {
  await awayFromStepBoundary(clock);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, { params, scope });
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  const ok = await flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
  expect(ok.status).toBe(200);
  return { ...(await flow.complete(ok.body.redirect_to)), browser: flow.browser };
}

const usesOf = (grantId: string) =>
  idp.container.db
    .selectFrom('auditEvents')
    .select(['type', 'data', 'clientId'])
    .where('subject', '=', grantId)
    .where('type', '=', 'break_glass.used')
    .execute();

test('while active, an MFA login gets the grant in its ID token and JWT access token (signed, verified), each issuance audited, the access token ending with the grant', async () => {
  const user = await totpUser('bg-claims');
  const grant = await activeGrant(idp, keys, user.id, { duration: 300, notify_admins: true });
  const expiresAt = Math.floor(Date.parse(grant.expires_at) / 1000);
  const resource = idp.container.config.apiAudience;
  const { tokens } = await mfaLogin(user, { resource }, 'openid offline_access api');

  const id = await jwtVerify(tokens.id_token!, jwks(), { issuer: idp.url, audience: clientId });
  expect(id.payload).toMatchObject({ acr: 'aal2', break_glass: { id: grant.id, expires_at: expiresAt }, permissions: ['db.admin', 'incident:commander'] });
  const at = await jwtVerify(tokens.access_token, jwks(), { issuer: idp.url, audience: resource });
  expect(at.payload).toMatchObject({
    sub: user.id,
    acr: 'aal2',
    break_glass: { id: grant.id, expires_at: expiresAt },
    permissions: ['db.admin', 'incident:commander'],
  });
  // The access token (1 h by configuration) lives no longer than the grant's 5 minutes.
  expect(at.payload.exp! - expiresAt).toBeLessThanOrEqual(1);
  expect(tokens.expires_in).toBeLessThanOrEqual(300);

  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(decodeJwt(refreshed.access_token)).toMatchObject({ break_glass: { id: grant.id } });
  expect(decodeJwt(refreshed.id_token!)).toMatchObject({ break_glass: { id: grant.id } });

  // One event per token request that handed the grant out, naming the grant and the client.
  const uses = await usesOf(grant.id);
  expect(uses).toHaveLength(2);
  for (const u of uses) expect(u).toMatchObject({ clientId, data: { grant_id: grant.id, user_id: user.id, client_id: clientId, route: 'token' } });
  const notes = await api('GET', `/audit-events?type=break_glass.notification&subject=${grant.id}`);
  expect(notes.body.events.map((e: { data: { stage: string } }) => e.data.stage)).toEqual(['requested', 'approved', 'first_use']);
});

test('a password-only session gets no elevation: its refresh carries nothing, and the next authorization request asks for the second factor', async () => {
  const user = await totpUser('bg-acr');
  const { flow, login } = await passwordStep(config, user.username, PASSWORD, { scope: 'openid offline_access' });
  expect(login.body.status).toBe('success'); // MFA is off here: a password is enough without a grant
  const { tokens, claims } = await flow.complete(login.body.redirect_to);
  expect(claims.acr).toBe('aal1');

  const grant = await activeGrant(idp, keys, user.id);
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.claims()!.break_glass).toBeUndefined();
  expect(refreshed.claims()!.permissions).toBeUndefined();
  const info = await oc.fetchUserInfo(config, refreshed.access_token, user.id);
  expect(info.break_glass).toBeUndefined();

  // The same browser's session no longer satisfies: the login asks for the second factor.
  const again = await beginAuth(config, { browser: flow.browser, scope: 'openid offline_access' });
  expect(again.interactionUrl).toBeDefined();
  expect((await again.details()).body.step).toBe('mfa');
  await awayFromStepBoundary(clock);
  const ok = await again.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
  expect(ok.status).toBe(200);
  const elevated = await again.complete(ok.body.redirect_to);
  expect(elevated.claims).toMatchObject({ acr: 'aal2', break_glass: { id: grant.id }, permissions: ['db.admin', 'incident:commander'] });
  const elevatedInfo = await oc.fetchUserInfo(config, elevated.tokens.access_token, user.id);
  expect(elevatedInfo).toMatchObject({ break_glass: { id: grant.id }, permissions: ['db.admin', 'incident:commander'] });

  // A fresh password-only login of that user is asked for the second factor too.
  const fresh = await passwordStep(config, user.username, PASSWORD);
  expect(fresh.login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  const decided = await idp.container.db
    .selectFrom('auditEvents')
    .select('data')
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.mfa.challenged')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  expect(decided!.data).toMatchObject({
    reasons: expect.arrayContaining(['break_glass']),
    sources: expect.arrayContaining([{ source: `break_glass:${grant.id}`, key: 'min_acr' }]),
  });
});

test('the grant ends by the clock alone: after expires_at, refreshed tokens carry nothing and logins need no second factor again', async () => {
  const user = await totpUser('bg-expiry');
  const grant = await activeGrant(idp, keys, user.id, { duration: 120 });
  const { tokens, claims } = await mfaLogin(user);
  expect(claims.break_glass).toEqual({ id: grant.id, expires_at: Math.floor(Date.parse(grant.expires_at) / 1000) });

  clock.advance(121_000);
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.claims()!.break_glass).toBeUndefined();
  expect(refreshed.claims()!.permissions).toBeUndefined();
  const later = await passwordStep(config, user.username, PASSWORD);
  expect(later.login.body.status).toBe('success');
  expect((await api('GET', `/break-glass/${grant.id}`, undefined, keys.approver)).body.break_glass).toMatchObject({ status: 'expired', pending_review: true });
});

test('revoking early ends the sessions it elevated with back-channel logout; refresh is invalid_grant and new tokens carry nothing', async () => {
  const user = await totpUser('bg-revoke');
  const grant = await activeGrant(idp, keys, user.id);
  const { tokens, claims } = await mfaLogin(user);
  expect(claims.break_glass).toMatchObject({ id: grant.id });
  const sid = claims.sid;
  const delivered = rp.received.length;

  const r = await api('DELETE', `/break-glass/${grant.id}`, undefined, keys.approver);
  expect(r.status).toBe(200);
  expect(r.body.break_glass).toMatchObject({ status: 'revoked', pending_review: true });
  const logouts = (await rp.waitFor(delivered + 1)).slice(delivered);
  expect(logouts).toHaveLength(1);
  const logout = await jwtVerify(logouts[0]!.logoutToken, jwks(), { issuer: idp.url, audience: clientId, typ: 'logout+jwt' });
  expect(logout.payload).toMatchObject({ sub: user.id, sid });

  await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  const after = await passwordStep(config, user.username, PASSWORD);
  expect(after.login.body.status).toBe('success'); // no grant: MFA is off again for this user
  const { claims: afterClaims } = await after.flow.complete(after.login.body.redirect_to);
  expect(afterClaims.break_glass).toBeUndefined();
  expect(afterClaims.permissions).toBeUndefined();
  const ended = await idp.container.db
    .selectFrom('auditEvents')
    .select('data')
    .where('subject', '=', user.id)
    .where('type', '=', 'authn.sessions.ended')
    .execute();
  expect(ended.map((e) => e.data)).toEqual([expect.objectContaining({ count: 1, reason: 'break_glass.revoked', grant_id: grant.id })]);
});

test('fail closed at use: when the use cannot be audited, the token request fails and no token carries the grant', async () => {
  const user = await totpUser('bg-use-audit');
  const grant = await activeGrant(idp, keys, user.id);
  await awayFromStepBoundary(clock);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  const ok = await flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) });
  const lift = await refuseBreakGlassAudit(idp);
  try {
    // The token endpoint answers an error instead of the tokens: the relying party gets none.
    const refused = await flow.complete(ok.body.redirect_to).then(
      () => undefined,
      (err: { cause?: Response }) => err.cause,
    );
    expect(refused?.status).toBe(500);
  } finally {
    await lift();
  }
  expect(await usesOf(grant.id)).toHaveLength(0);
});

test("tokens from an authentication below the organisation's min_acr never carry the grant, however they are minted", async () => {
  const user = await totpUser('bg-aal3', 'strict');
  // aal2 asked by the relying party: password and TOTP
  const { tokens, claims } = await mfaLogin(user, { acr_values: 'aal2' });
  expect(claims.acr).toBe('aal2');
  const grant = await activeGrant(idp, keys, user.id);
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.claims()).toMatchObject({ acr: 'aal2' });
  expect(refreshed.claims()!.break_glass).toBeUndefined();
  expect(await oc.fetchUserInfo(config, refreshed.access_token, user.id)).not.toHaveProperty('break_glass');
  expect(await usesOf(grant.id)).toHaveLength(0);
  // Another user's multi-factor tokens, in an organisation whose min_acr they reach, never carry it either.
  const other = await totpUser('bg-other');
  const theirs = await mfaLogin(other, { acr_values: 'aal2' });
  expect(theirs.claims).toMatchObject({ acr: 'aal2' });
  expect(theirs.claims.break_glass).toBeUndefined();
});

test('of concurrent revocations one ends the grant and the sessions; the rest are 409', async () => {
  const user = await totpUser('bg-revoke-race');
  const grant = await activeGrant(idp, keys, user.id);
  await mfaLogin(user);
  const answers = await Promise.all([keys.approver, keys.reviewer, keys.both].map((k) => api('DELETE', `/break-glass/${grant.id}`, undefined, k)));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
  const events = await idp.container.db
    .selectFrom('auditEvents')
    .select('type')
    .where('subject', '=', grant.id)
    .where('type', '=', 'break_glass.revoked')
    .execute();
  expect(events).toHaveLength(1);
  expect(await api('GET', '/break-glass/not-a-uuid', undefined, keys.approver)).toMatchObject({ status: 400 });
});

test('a trusted device never satisfies a grant: with one active, the device that skipped MFA is asked for the second factor', async () => {
  const user = await totpUser('bg-device', 'trusting');
  await awayFromStepBoundary(clock);
  const first = await passwordStep(config, user.username, PASSWORD);
  expect(first.login.body.status).toBe('mfa_required');
  expect((await first.flow.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) })).body).toEqual({ status: 'trust_device' });
  const trusted = await first.flow.post('trust-device', { trust: true, name: 'Laptop' });
  const device = trusted.res.headers
    .getSetCookie()
    .find((c) => c.startsWith('idp_device='))!
    .split(';')[0]!
    .slice('idp_device='.length);
  const withDevice = async () => {
    const flow = await beginAuth(config, { browser: new Browser() });
    plantCookie(flow.browser, 'idp_device', device);
    return (await flow.post('login', { username: user.username, password: PASSWORD })).body;
  };
  expect((await withDevice()).status).toBe('success'); // the device skips MFA without a grant

  await activeGrant(idp, keys, user.id);
  expect(await withDevice()).toEqual({ status: 'mfa_required', methods: ['totp'] });
});
