/**
 * Negative cases of the OIDC foundation (code reuse and races, PKCE, redirect URIs, grant and
 * response types, prompt=none, refresh rotation, disabled users, logout; plus the login step's
 * enumeration and lockout rules), each run against a real IdP with openid-client as the RP.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { REDIRECT_URI, createUser, discover, oc, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';
const POST_LOGOUT = 'http://127.0.0.1:9/logged-out';

let idp: TestIdp;
let clientA: { client_id: string; client_secret: string };
let clientB: { client_id: string; client_secret: string };
let configA: oc.Configuration;
let configB: oc.Configuration;

beforeAll(async () => {
  // A generous per-IP login limit: this file makes many login attempts from one address.
  idp = await startTestIdp('oidc-negative', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  clientA = await registerClient(idp.url, { first_party: true, post_logout_redirect_uris: [POST_LOGOUT] });
  clientB = await registerClient(idp.url, { first_party: true });
  configA = await discover(idp.url, clientA.client_id, clientA.client_secret);
  configB = await discover(idp.url, clientB.client_id, clientB.client_secret);
  await createUser(idp.url, { external_id: 'neg-alice', username: 'alice', email: 'alice@example.test', password: PASSWORD });
});
afterAll(async () => {
  await idp.stop();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Starts an authorization request and returns the interaction it lands on. */
async function startAuth(config: oc.Configuration, params: Record<string, string> = {}) {
  const browser = new Browser();
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const authUrl = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access email',
    state,
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  const res = await browser.fetch(authUrl);
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`authorization request did not redirect: ${res.status} ${await res.text()}`);
  const interactionUrl = new URL(location, authUrl);
  expect(interactionUrl.pathname).toMatch(/^\/interaction\//);
  return { browser, verifier, state, interactionUrl };
}

const login = (browser: Browser, interactionUrl: URL, username: unknown, password: unknown) =>
  browser.json(`${interactionUrl.href}/login`, { username, password });

/** A full login up to the callback (code not yet redeemed). */
async function getCode(config: oc.Configuration, username = 'alice', password = PASSWORD, params: Record<string, string> = {}) {
  const flow = await startAuth(config, params);
  const res = await login(flow.browser, flow.interactionUrl, username, password);
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('success');
  const callback = await flow.browser.follow(new URL(res.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
  expect(callback.href.startsWith(REDIRECT_URI)).toBe(true);
  expect(callback.searchParams.get('code')).toBeTruthy();
  return { ...flow, callback, code: callback.searchParams.get('code')! };
}

async function tokensFor(config: oc.Configuration, username = 'alice', password = PASSWORD) {
  const { callback, verifier, state } = await getCode(config, username, password);
  return oc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
}

/** An authorization request in an existing browser, followed until it comes back to the client. */
async function browserAuth(browser: Browser, params: Record<string, string> = {}): Promise<URL> {
  const url = oc.buildAuthorizationUrl(configA, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: 'silent',
    code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    ...params,
  });
  const end = await browser.follow(url, (u) => u.href.startsWith(REDIRECT_URI));
  expect(end.href.startsWith(REDIRECT_URI)).toBe(true);
  return end;
}

const userinfoStatus = async (accessToken: string) => (await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

async function rawToken(id: string, secret: string, params: Record<string, string>) {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('password step', () => {
  test('wrong password, unknown user and disabled user all get the same 401 invalid_credentials', async () => {
    const dave = await createUser(idp.url, { external_id: 'neg-dave', username: 'dave', password: PASSWORD });
    await idp.container.accounts.update(dave.id, { status: 'disabled' });

    const { browser, interactionUrl } = await startAuth(configA);
    const answers = [
      await login(browser, interactionUrl, 'alice', 'not the password'),
      await login(browser, interactionUrl, 'nobody-here', PASSWORD),
      await login(browser, interactionUrl, 'dave', PASSWORD), // right password, disabled account
    ];
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body).toEqual({ error: 'invalid_credentials', error_description: expect.any(String) });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    // The interaction survives failures: the right password still signs alice in.
    const ok = await login(browser, interactionUrl, 'alice', PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('success');
  });

  test('lockout after lockout.maxFailures wrong passwords: then even the right password fails', async () => {
    const max = idp.container.config.lockout.maxFailures;
    await createUser(idp.url, { external_id: 'neg-lock', username: 'locky', password: PASSWORD });
    const { browser, interactionUrl } = await startAuth(configA);
    for (let i = 0; i < max; i++) {
      const r = await login(browser, interactionUrl, 'locky', `wrong-${i}`);
      expect(r.status).toBe(401);
    }
    const locked = await login(browser, interactionUrl, 'locky', PASSWORD);
    expect(locked.status).toBe(401);
    expect(locked.body.error).toBe('invalid_credentials');

    const profile = await fetch(`${idp.url}/api/v1/users/profile?externalUserId=neg-lock`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(profile.status).toBe(200);
    const body = (await profile.json()) as Record<string, unknown>;
    expect(body.is_locked).toBe(true);
    expect(body.failed_attempts).toBe(max);
  });

  test('20 concurrent wrong passwords are all refused and lock the account', async () => {
    const max = idp.container.config.lockout.maxFailures;
    await createUser(idp.url, { external_id: 'neg-burst', username: 'bursty', password: PASSWORD });
    const { browser, interactionUrl } = await startAuth(configA);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => login(browser, interactionUrl, 'bursty', `wrong-${i}`)));
    expect(results.every((r) => r.status === 401 && r.body.error === 'invalid_credentials')).toBe(true);
    const user = await idp.container.accounts.findByExternalId('neg-burst');
    expect(user!.failedAttempts).toBeGreaterThanOrEqual(max);
    expect(user!.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    expect((await login(browser, interactionUrl, 'bursty', PASSWORD)).status).toBe(401);
  });
});

describe('authorization codes', () => {
  test('code reuse → invalid_grant, and the first access token is revoked', async () => {
    const { callback, verifier, state } = await getCode(configA);
    const first = await oc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(await userinfoStatus(first.access_token)).toBe(200);
    expect((await oc.tokenIntrospection(configA, first.access_token)).active).toBe(true);

    await expect(oc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(await userinfoStatus(first.access_token)).toBe(401);
    expect((await oc.tokenIntrospection(configA, first.access_token)).active).toBe(false);
    await expect(oc.refreshTokenGrant(configA, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('50 concurrent redemptions of one code → exactly one 200, the rest invalid_grant, no 5xx', async () => {
    const { code, verifier } = await getCode(configA);
    const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
    const results = await Promise.all(Array.from({ length: 50 }, () => rawToken(clientA.client_id, clientA.client_secret, params)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
    }
    // The race counts as a reuse: the winner's token is revoked with the grant.
    expect(await userinfoStatus(ok[0]!.body.access_token as string)).toBe(401);
  });

  test('wrong code_verifier → invalid_grant', async () => {
    const { callback, state } = await getCode(configA);
    await expect(oc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: oc.randomPKCECodeVerifier(), expectedState: state })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  test('no code_verifier at the token endpoint → invalid_grant', async () => {
    const { code } = await getCode(configA);
    const r = await rawToken(clientA.client_id, clientA.client_secret, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
    expect(r.status).toBe(400);
    expect(['invalid_grant', 'invalid_request']).toContain(r.body.error);
    expect(r.body.access_token).toBeUndefined();
  });

  test("client A's code redeemed with client B's credentials → invalid_grant", async () => {
    const { code, verifier } = await getCode(configA);
    const r = await rawToken(clientB.client_id, clientB.client_secret, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
  });

  test('redirect_uri tampered at the token endpoint → invalid_grant', async () => {
    const { code, verifier } = await getCode(configA);
    const r = await rawToken(clientA.client_id, clientA.client_secret, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: `${REDIRECT_URI}?x=1`,
      code_verifier: verifier,
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
  });

  test('wrong client secret → 401 invalid_client', async () => {
    const { code, verifier } = await getCode(configA);
    const r = await rawToken(clientA.client_id, `${clientA.client_secret}x`, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
  });

  test('grant_type=password is rejected', async () => {
    const r = await rawToken(clientA.client_id, clientA.client_secret, { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'openid' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unsupported_grant_type');
    expect(r.body.access_token).toBeUndefined();
  });
});

describe('authorization request validation', () => {
  const authUrl = (params: Record<string, string>) => {
    const u = new URL(`${idp.url}/auth`);
    for (const [k, v] of Object.entries({
      client_id: clientA.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      state: 'st',
      ...params,
    })) {
      u.searchParams.set(k, v);
    }
    return u;
  };
  const challenge = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

  test.each([
    ['unregistered', 'http://evil.example/cb'],
    ['query added', `${REDIRECT_URI}?next=1`],
    ['trailing slash', `${REDIRECT_URI}/`],
    ['different path', 'http://127.0.0.1:9/cb2'],
    ['path traversal', 'http://127.0.0.1:9/x/../cb'],
    ['https instead of http', 'https://127.0.0.1:9/cb'],
    ['userinfo in authority', 'http://127.0.0.1:9@evil.example/cb'],
    ['case change', 'http://127.0.0.1:9/CB'],
  ])('redirect_uri %s → HTML error page 400, no redirect', async (_label, redirectUri) => {
    const res = await fetch(authUrl({ ...challenge, redirect_uri: redirectUri }), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('redirect_uri');
    expect(html).not.toContain('evil.example/cb?');
  });

  test('missing code_challenge → invalid_request back to the client', async () => {
    const res = await fetch(authUrl({}), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('code')).toBeNull();
  });

  test('code_challenge_method=plain → rejected', async () => {
    const res = await fetch(authUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('code')).toBeNull();
  });

  test.each(['token', 'id_token token', 'code token'])('response_type=%s → rejected, no token', async (responseType) => {
    const res = await fetch(authUrl({ ...challenge, response_type: responseType, nonce: 'n' }), { redirect: 'manual' });
    const location = res.headers.get('location');
    if (location) {
      const u = new URL(location);
      expect(u.href.startsWith(REDIRECT_URI)).toBe(true);
      expect(u.searchParams.get('error') ?? new URLSearchParams(u.hash.slice(1)).get('error')).toBe('unsupported_response_type');
      expect(u.href).not.toMatch(/access_token|code=/);
    } else {
      expect(res.status).toBe(400);
    }
  });

  test('prompt=none without a session → login_required', async () => {
    const res = await fetch(authUrl({ ...challenge, prompt: 'none' }), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe('st');
  });
});

describe('refresh tokens and account state', () => {
  test('reusing a rotated refresh token revokes the whole family', async () => {
    const t1 = await tokensFor(configA);
    const t2 = await oc.refreshTokenGrant(configA, t1.refresh_token!);
    expect(await userinfoStatus(t2.access_token)).toBe(200);

    await expect(oc.refreshTokenGrant(configA, t1.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oc.refreshTokenGrant(configA, t2.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(t2.access_token)).toBe(401);
    expect((await oc.tokenIntrospection(configA, t2.access_token)).active).toBe(false);
  });

  test('disabling the user stops refresh, userinfo and introspection at once', async () => {
    const erin = await createUser(idp.url, { external_id: 'neg-erin', username: 'erin', password: PASSWORD });
    const flow = await getCode(configA, 'erin');
    const erinBrowser = flow.browser;
    const tokens = await oc.authorizationCodeGrant(configA, flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(await userinfoStatus(tokens.access_token)).toBe(200);
    // While active, the SSO session signs in silently.
    expect((await browserAuth(erinBrowser, { prompt: 'none' })).searchParams.get('code')).toBeTruthy();

    await idp.container.accounts.update(erin.id, { status: 'disabled' });
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
    // Nor does the SSO session yield a new code.
    const silent = await browserAuth(erinBrowser, { prompt: 'none' });
    expect(silent.searchParams.get('code')).toBeNull();
    expect(silent.searchParams.get('error')).toBe('login_required');
    await expect(oc.refreshTokenGrant(configA, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oc.tokenIntrospection(configA, tokens.access_token)).active).toBe(false);
  });
});

describe('logout, PAR, introspection, revocation', () => {
  test('RP-initiated logout with an unregistered post_logout_redirect_uri → error page, no redirect', async () => {
    const { browser, callback, verifier, state } = await getCode(configA);
    const tokens = await oc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const end = new URL(`${idp.url}/session/end`);
    end.searchParams.set('id_token_hint', tokens.id_token!);
    end.searchParams.set('post_logout_redirect_uri', 'http://evil.example/bye');
    const res = await browser.fetch(end);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).not.toContain('evil.example');

    // The registered one is accepted (the end_session page asks for confirmation).
    end.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
    const ok = await browser.fetch(end);
    expect(ok.status).toBe(200);
  });

  test('RP-initiated logout with a modified id_token_hint → rejected', async () => {
    const tokens = await tokensFor(configA);
    const [h, p, s] = tokens.id_token!.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = [h, Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url'), s].join('.');
    const end = new URL(`${idp.url}/session/end`);
    end.searchParams.set('id_token_hint', forged);
    end.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
    const res = await fetch(end, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  test('PAR: POST /request with client authentication, then /auth?request_uri= completes the login', async () => {
    const browser = new Browser();
    const verifier = oc.randomPKCECodeVerifier();
    const state = oc.randomState();
    const parUrl = await oc.buildAuthorizationUrlWithPAR(configA, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      state,
      code_challenge: await oc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    expect(parUrl.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(parUrl.searchParams.get('redirect_uri')).toBeNull();

    const res = await browser.fetch(parUrl);
    expect(res.status).toBe(303);
    const interactionUrl = new URL(res.headers.get('location')!, parUrl);
    const ok = await login(browser, interactionUrl, 'alice', PASSWORD);
    expect(ok.status).toBe(200);
    const callback = await browser.follow(new URL(ok.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await oc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: clientA.client_id });
    expect(payload.sub).toBeTruthy();

    // A request_uri is single-use.
    const again = await new Browser().fetch(parUrl);
    expect(again.headers.get('location') ?? '').not.toMatch(/^\/interaction\//);
  });

  test('PAR without client authentication → 401 invalid_client', async () => {
    const res = await fetch(`${idp.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: clientA.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });

  test('introspection and revocation work for the client', async () => {
    const tokens = await tokensFor(configA);
    const info = await oc.tokenIntrospection(configA, tokens.access_token);
    expect(info.active).toBe(true);
    expect(info.client_id).toBe(clientA.client_id);
    expect(typeof info.sub).toBe('string');
    expect((await oc.tokenIntrospection(configA, tokens.refresh_token!)).active).toBe(true);

    // Another client learns nothing about A's tokens.
    expect((await oc.tokenIntrospection(configB, tokens.access_token)).active).toBe(false);

    await oc.tokenRevocation(configA, tokens.access_token);
    expect((await oc.tokenIntrospection(configA, tokens.access_token)).active).toBe(false);
    expect(await userinfoStatus(tokens.access_token)).toBe(401);

    await oc.tokenRevocation(configA, tokens.refresh_token!);
    expect((await oc.tokenIntrospection(configA, tokens.refresh_token!)).active).toBe(false);
    await expect(oc.refreshTokenGrant(configA, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
