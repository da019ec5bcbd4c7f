import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { REDIRECT_URI, discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('account-switch');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});

/**
 * Signing in as someone else ends the previous account's session first: oidc-provider answers the
 * resume with an auto-submitted form to its logout confirmation, which then returns to the resume.
 * This plays the browser's part: submit the form, follow the redirects to the relying party.
 */
async function toCallback(flow: Awaited<ReturnType<typeof beginAuth>>, start: URL): Promise<URL> {
  let url = start;
  let res: Response | undefined;
  for (let hop = 0; hop < 15 && !url.href.startsWith(REDIRECT_URI); hop++) {
    if (!res) res = await flow.browser.fetch(url, { headers: { accept: 'text/html' } });
    const location = res.headers.get('location');
    if (location) {
      url = new URL(location, url);
      res = undefined;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no redirect and no form at ${url.href}: ${res.status} ${html.slice(0, 2000)}`);
    const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    url = new URL(action.replace(/&amp;/g, '&'), url);
    res = await flow.browser.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  return url;
}

test("signed in as bob, prompt=login as alice in the same browser ends with alice's tokens", async () => {
  const bob = await newUser(idp.url, 'bob');
  const alice = await newUser(idp.url, 'alice');

  const first = await beginAuth(config, { scope: 'openid offline_access' });
  const bobLogin = await first.post('login', { username: bob.username, password: PASSWORD });
  expect(bobLogin.status).toBe(200);
  const bobTokens = await first.complete(bobLogin.body.redirect_to);
  expect(bobTokens.claims.sub).toBe(bob.id);

  // Same cookie jar: bob's SSO session (and his grant for this client) is still there.
  const second = await beginAuth(config, { browser: first.browser, params: { prompt: 'login' } });
  expect(second.interactionUrl).toBeDefined();
  const aliceLogin = await second.post('login', { username: alice.username, password: PASSWORD });
  expect(aliceLogin.status).toBe(200);

  const callback = await toCallback(second, new URL(aliceLogin.body.redirect_to, idp.url));
  expect(callback.searchParams.get('error')).toBeNull();
  const aliceTokens = await second.complete(callback.href);
  expect(aliceTokens.claims.sub).toBe(alice.id);
  const info = await oc.fetchUserInfo(config, aliceTokens.tokens.access_token, alice.id);
  expect(info.sub).toBe(alice.id);

  // Ending bob's session revoked his grant: his refresh token no longer works.
  await expect(oc.refreshTokenGrant(config, bobTokens.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});
