import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient, REDIRECT_URI } from '../helpers/rp.js';

const POST_LOGOUT = 'http://127.0.0.1:9/bye';
let idp: TestIdp;
let rp: Awaited<ReturnType<typeof startLogoutReceiver>>;

beforeAll(async () => {
  idp = await startTestIdp('logout');
  // The relying party's back-channel logout endpoint.
  rp = await startLogoutReceiver();
  await createUser(idp.url, { external_id: 'bcl-1', username: 'bea', password: 'bea password 123' });
});
afterAll(async () => {
  await rp.close();
  await idp.stop();
});

test('RP-initiated logout ends the SSO session and sends a signed back-channel logout token', async () => {
  const client = await registerClient(idp.url, {
    first_party: true,
    post_logout_redirect_uris: [POST_LOGOUT],
    backchannel_logout_uri: `${rp.url}/backchannel`,
    backchannel_logout_session_required: true,
  });
  const config = await discover(idp.url, client.client_id, client.client_secret);
  const { tokens, browser } = await authorize(config, { onStep: passwordSteps('bea', 'bea password 123') });
  const idToken = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url });
  expect(typeof idToken.payload.sid).toBe('string');

  const end = new URL(`${idp.url}/session/end`);
  end.searchParams.set('id_token_hint', tokens.id_token!);
  end.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
  const page = await browser.fetch(end);
  expect(page.status).toBe(200);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1];
  expect(xsrf).toBeTruthy();
  const confirm = await browser.fetch(`${idp.url}/session/end/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString(),
  });
  expect(confirm.status).toBe(303);
  expect(confirm.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:9\/bye/);

  // The back-channel call is made by the IdP during the logout.
  const logoutTokens = await rp.waitFor(1);
  expect(logoutTokens).toHaveLength(1);
  const { payload } = await verifyLogoutToken(idp.url, client.client_id, logoutTokens[0]!.logoutToken);
  expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
  expect(payload.sid).toBe(idToken.payload.sid);
  expect(payload.sub).toBe(idToken.payload.sub);

  // The SSO session is gone: a silent authorization request now needs a login.
  const silent = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const res = await browser.fetch(silent);
  expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('login_required');
});
