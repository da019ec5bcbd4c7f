/**
 * The login interaction under hostile input and its HTML pages: forms carry a
 * CSRF token, work without JavaScript, and malformed requests get a 4xx with a JSON error body.
 */
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { REDIRECT_URI, createUser, discover, oc, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';

let idp: TestIdp;
let firstParty: oc.Configuration;
let thirdParty: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('interaction-pages', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const fp = await registerClient(idp.url, { first_party: true });
  const tp = await registerClient(idp.url, {});
  firstParty = await discover(idp.url, fp.client_id, fp.client_secret);
  thirdParty = await discover(idp.url, tp.client_id, tp.client_secret);
  await createUser(idp.url, { external_id: 'ip-alice', username: 'alice', password: PASSWORD });
});
afterAll(async () => {
  await idp.stop();
});

async function startAuth(config: oc.Configuration = firstParty) {
  const browser = new Browser();
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const authUrl = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const res = await browser.fetch(authUrl);
  const interactionUrl = new URL(res.headers.get('location')!, authUrl);
  expect(interactionUrl.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
  return { browser, verifier, state, interactionUrl, uid: interactionUrl.pathname.split('/')[2]! };
}

async function post(browser: Browser, url: string, body: string | URLSearchParams, contentType: string, accept = 'application/json') {
  const res = await browser.fetch(url, { method: 'POST', headers: { 'content-type': contentType, accept }, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, res };
}

const expectJsonError = (r: { status: number; json: any; res: Response }, status: number) => {
  expect(r.status).toBe(status);
  expect(r.res.headers.get('content-type')).toMatch(/application\/json/);
  expect(r.json).toEqual({ error: expect.any(String), error_description: expect.any(String) });
};

describe('hostile JSON input', () => {
  test('malformed JSON → 400 {error, error_description}', async () => {
    const { browser, interactionUrl } = await startAuth();
    for (const bad of ['{"username": "alice", "password":', '{username: alice}', '["a"', '']) {
      const r = await post(browser, `${interactionUrl.href}/login`, bad, 'application/json');
      expectJsonError(r, 400);
    }
  });

  test('1 MB JSON or form body → 413', async () => {
    const { browser, interactionUrl } = await startAuth();
    const big = JSON.stringify({ username: 'alice', password: 'x'.repeat(1024 * 1024) });
    const r = await post(browser, `${interactionUrl.href}/login`, big, 'application/json');
    expectJsonError(r, 413);
    const form = new URLSearchParams({ username: 'alice', password: 'x'.repeat(1024 * 1024) }).toString();
    const f = await post(browser, `${interactionUrl.href}/login`, form, 'application/x-www-form-urlencoded');
    expectJsonError(f, 413);
    // The interaction is unharmed.
    const ok = await browser.json(`${interactionUrl.href}/login`, { username: 'alice', password: PASSWORD });
    expect(ok.status).toBe(200);
  });

  test.each([
    ['username array', { username: ['alice'], password: PASSWORD }],
    ['username object', { username: { $ne: null }, password: PASSWORD }],
    ['username number', { username: 12345, password: PASSWORD }],
    ['username null', { username: null, password: PASSWORD }],
    ['username missing', { password: PASSWORD }],
    ['username empty', { username: '', password: PASSWORD }],
    ['password array', { username: 'alice', password: [PASSWORD] }],
    ['password object', { username: 'alice', password: { $gt: '' } }],
    ['password number', { username: 'alice', password: 0 }],
    ['password null', { username: 'alice', password: null }],
    ['password true', { username: 'alice', password: true }],
    ['60 KB username (under the body limit)', { username: 'a'.repeat(60 * 1024), password: PASSWORD }],
    ['body is an array', [{ username: 'alice', password: PASSWORD }]],
    ['body is a string', 'alice'],
    ['body is null', null],
  ])('%s → 400, never 500 and never a login', async (_label, payload) => {
    const { browser, interactionUrl } = await startAuth();
    const r = await post(browser, `${interactionUrl.href}/login`, JSON.stringify(payload), 'application/json');
    expectJsonError(r, 400);
  });

  test('100 KB username → 413 (over the 64 KB body limit: refused before parsing), never 500', async () => {
    const { browser, interactionUrl } = await startAuth();
    const r = await post(browser, `${interactionUrl.href}/login`, JSON.stringify({ username: 'a'.repeat(100 * 1024), password: PASSWORD }), 'application/json');
    expectJsonError(r, 413);
    expect(r.json.error).toBe('payload_too_large');
  });

  test('__proto__ / constructor keys do not pollute or log in', async () => {
    const { browser, interactionUrl } = await startAuth();
    const raw = `{"__proto__": {"username": "alice", "password": "${PASSWORD}", "polluted": true}, "constructor": {"prototype": {"polluted": true}}}`;
    const r = await post(browser, `${interactionUrl.href}/login`, raw, 'application/json');
    expectJsonError(r, 400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('deeply nested JSON → 400 quickly', async () => {
    const { browser, interactionUrl } = await startAuth();
    const depth = 5000;
    const nested = `{"username": ${'['.repeat(depth)}${']'.repeat(depth)}, "password": "x"}`;
    const started = Date.now();
    const r = await post(browser, `${interactionUrl.href}/login`, nested, 'application/json');
    expect(r.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('interaction identity', () => {
  test('unknown interaction uid → 400 JSON', async () => {
    const { browser } = await startAuth();
    const get = await browser.json(`${idp.url}/interaction/AAAAAAAAAAAAAAAAAAAAA`);
    expect(get.status).toBe(400);
    expect(get.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    const login = await post(
      browser,
      `${idp.url}/interaction/AAAAAAAAAAAAAAAAAAAAA/login`,
      JSON.stringify({ username: 'alice', password: PASSWORD }),
      'application/json',
    );
    expectJsonError(login, 400);
  });

  test('malformed uid → 400 JSON', async () => {
    const { browser } = await startAuth();
    for (const uid of ['x', "'%20or%201=1--", 'a'.repeat(200)]) {
      const r = await browser.json(`${idp.url}/interaction/${uid}`);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    }
  });

  test('missing interaction cookie → 400 JSON, and no login', async () => {
    const { interactionUrl } = await startAuth();
    const stranger = new Browser();
    const get = await stranger.json(interactionUrl);
    expect(get.status).toBe(400);
    expect(get.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    const login = await stranger.json(`${interactionUrl.href}/login`, { username: 'alice', password: PASSWORD });
    expect(login.status).toBe(400);
    expect(login.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  });

  test("another browser's interaction uid with my cookie → 400", async () => {
    const mine = await startAuth();
    const theirs = await startAuth();
    const r = await mine.browser.json(`${theirs.interactionUrl.href}/login`, { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(400);
    expect(r.body.error).toBeTruthy();
  });
});

describe('HTML pages and CSRF', () => {
  const csrfOf = (html: string) => /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)?.[1];

  test('GET renders the login form with a csrf hidden input; the form post logs in with a 303', async () => {
    const { browser, interactionUrl, uid, verifier, state } = await startAuth();
    const page = await browser.fetch(interactionUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    const html = await page.text();
    expect(html).toContain(`action="/interaction/${uid}/login"`);
    expect(html).toMatch(/name="username"/);
    expect(html).toMatch(/name="password" type="password"/);
    const csrf = csrfOf(html);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const res = await browser.fetch(`${interactionUrl.href}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf: csrf!, username: 'alice', password: PASSWORD }),
    });
    expect(res.status).toBe(303);
    const callback = await browser.follow(new URL(res.headers.get('location')!, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await oc.authorizationCodeGrant(firstParty, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.id_token).toBeTruthy();
  });

  test('form POST without or with a wrong csrf token → 403, no login', async () => {
    const { browser, interactionUrl } = await startAuth();
    const other = await startAuth();
    const otherCsrf = csrfOf(await (await other.browser.fetch(other.interactionUrl, { headers: { accept: 'text/html' } })).text())!;
    for (const csrf of [undefined, '', 'forged', otherCsrf]) {
      const form = new URLSearchParams({ username: 'alice', password: PASSWORD });
      if (csrf !== undefined) form.set('csrf', csrf);
      const html = await post(browser, `${interactionUrl.href}/login`, form, 'application/x-www-form-urlencoded', 'text/html');
      expect(html.status).toBe(403);
      expect(html.res.headers.get('location')).toBeNull();
      const json = await post(browser, `${interactionUrl.href}/login`, form, 'application/x-www-form-urlencoded');
      expectJsonError(json, 403);
      expect(json.json.error).toBe('invalid_csrf_token');
    }
    // A text/plain body (what a cross-site form can send without a preflight) is no JSON exemption.
    const plain = await post(browser, `${interactionUrl.href}/login`, JSON.stringify({ username: 'alice', password: PASSWORD }), 'text/plain');
    expect(plain.status).toBeGreaterThanOrEqual(400);
    expect(plain.status).toBeLessThan(500);
    expect(plain.json?.status).not.toBe('success');
  });

  test('a wrong password in the HTML form answers 303 to the step page, which shows the error once and escapes the echoed username', async () => {
    const { browser, interactionUrl } = await startAuth();
    const csrf = csrfOf(await (await browser.fetch(interactionUrl, { headers: { accept: 'text/html' } })).text())!;
    const evil = '"><script>alert(1)</script>';
    const r = await post(
      browser,
      `${interactionUrl.href}/login`,
      new URLSearchParams({ csrf, username: evil, password: 'nope' }),
      'application/x-www-form-urlencoded',
      'text/html',
    );
    // Post/Redirect/Get: the answer to the form is a redirect, so a reload repeats the GET, never the post.
    expect(r.status).toBe(303);
    expect(new URL(r.res.headers.get('location')!, idp.url).href).toBe(interactionUrl.href);
    const page = await browser.fetch(interactionUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('Invalid username or password');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;');
    expect(csrfOf(html)).toBe(csrf);
    // The message was for that answer only: the page again is the plain form.
    const again = await (await browser.fetch(interactionUrl, { headers: { accept: 'text/html' } })).text();
    expect(again).not.toContain('Invalid username or password');
    expect(again).toContain(`action="/interaction/${interactionUrl.pathname.split('/')[2]}/login"`);
  });
});

describe('consent and abort', () => {
  async function loginThirdParty() {
    const flow = await startAuth(thirdParty);
    const res = await flow.browser.json(`${flow.interactionUrl.href}/login`, { username: 'alice', password: PASSWORD });
    expect(res.status).toBe(200);
    const next = await flow.browser.follow(
      new URL(res.body.redirect_to, idp.url),
      (u) => u.pathname.startsWith('/interaction/') || u.href.startsWith(REDIRECT_URI),
    );
    expect(next.pathname).toMatch(/^\/interaction\//);
    const details = await flow.browser.json(next);
    expect(details.status).toBe(200);
    expect(details.body.step).toBe('consent');
    return { ...flow, consentUrl: next };
  }

  test('a third-party client gets the consent step; consent completes the flow', async () => {
    const { browser, consentUrl, verifier, state } = await loginThirdParty();
    // Wrong step: logging in again at consent is refused.
    const wrong = await browser.json(`${consentUrl.href}/login`, { username: 'alice', password: PASSWORD });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_step');

    const html = await (await browser.fetch(consentUrl, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('/consent"');
    expect(html).toContain('name="csrf"');

    const ok = await browser.json(`${consentUrl.href}/consent`, {});
    expect(ok.status).toBe(200);
    const callback = await browser.follow(new URL(ok.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await oc.authorizationCodeGrant(thirdParty, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.access_token).toBeTruthy();
  });

  test('abort sends access_denied to the relying party, and no code', async () => {
    const { browser, consentUrl } = await loginThirdParty();
    const r = await browser.json(`${consentUrl.href}/abort`, {});
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('aborted');
    const callback = await browser.follow(new URL(r.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  test('abort by form without csrf → 403', async () => {
    const { browser, consentUrl } = await loginThirdParty();
    const r = await post(browser, `${consentUrl.href}/abort`, new URLSearchParams({}), 'application/x-www-form-urlencoded', 'text/html');
    expect(r.status).toBe(403);
  });
});
