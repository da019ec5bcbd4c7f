/**
 * The Content-Security-Policy of the pages a browser sees during sign-in and sign-out (W3C CSP
 * Level 3; OWASP ASVS 5 V3.4.3): no `'unsafe-inline'` scripts, each inline script allowed by its
 * own hash, and `form-action` limited to this origin plus the relying party the flow hands the
 * browser to (a form whose answer redirects to another origin is governed by form-action too).
 */
import crypto from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { seedTotp } from '../helpers/mfa-flow.js';
import { REDIRECT_URI, createUser, discover, oc, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';
const POST_LOGOUT = 'http://127.0.0.1:8/bye';
const RP_ORIGIN = new URL(REDIRECT_URI).origin;
const POST_LOGOUT_ORIGIN = new URL(POST_LOGOUT).origin;

let idp: TestIdp;
let client: { client_id: string; client_secret: string };
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('csp', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  client = await registerClient(idp.url, { first_party: true, post_logout_redirect_uris: [POST_LOGOUT] });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await createUser(idp.url, { external_id: 'csp-pat', username: 'pat', password: PASSWORD });
  const mo = await createUser(idp.url, { external_id: 'csp-mo', username: 'mo', password: PASSWORD });
  await seedTotp(idp.container, mo.id);
});
afterAll(async () => {
  await idp.stop();
});

/** The policy's directives, name → sources. */
function policyOf(res: Response): Map<string, string[]> {
  const header = res.headers.get('content-security-policy');
  expect(header).toBeTruthy();
  return new Map(
    header!
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...sources] = d.split(/\s+/);
        return [name!.toLowerCase(), sources];
      }),
  );
}

/** Every inline script of the page is allowed by a nonce or hash in script-src, and nothing allows inline scripts wholesale. */
function expectStrictScripts(policy: Map<string, string[]>, html: string): number {
  const scriptSrc = policy.get('script-src');
  expect(scriptSrc).toBeDefined();
  expect(scriptSrc).not.toContain("'unsafe-inline'");
  expect(scriptSrc).not.toContain("'unsafe-eval'");
  expect(policy.get('script-src-attr')).toEqual(["'none'"]);
  let inline = 0;
  for (const [, attrs, body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    if (/\bsrc=/i.test(attrs!)) continue;
    inline++;
    const nonce = /\bnonce="([^"]+)"/.exec(attrs!)?.[1];
    const hash = `'sha256-${crypto.createHash('sha256').update(body!).digest('base64')}'`;
    expect(Boolean(nonce && scriptSrc!.includes(`'nonce-${nonce}'`)) || scriptSrc!.includes(hash)).toBe(true);
  }
  return inline;
}

const formActionOf = (policy: Map<string, string[]>) => policy.get('form-action');

async function startLogin(params: Record<string, string> = {}) {
  const browser = new Browser();
  const verifier = oc.randomPKCECodeVerifier();
  const authUrl = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: oc.randomState(),
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  const res = await browser.fetch(authUrl);
  expect(res.status).toBe(303);
  const interactionUrl = new URL(res.headers.get('location')!, idp.url);
  const page = await browser.fetch(interactionUrl, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  const submit = (username: string) =>
    browser.fetch(`${interactionUrl.href}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf, username, password: PASSWORD }),
    });
  return { browser, page, html, submit };
}

test("login page: no unsafe-inline, form-action this origin and the client's redirect origin", async () => {
  const { page, html } = await startLogin();
  const policy = policyOf(page);
  expectStrictScripts(policy, html);
  expect(formActionOf(policy)).toEqual(["'self'", RP_ORIGIN]);
  expect(policy.get('default-src')).toEqual(["'self'"]);
  expect(policy.get('frame-ancestors')).toBeDefined();
});

test('MFA page: same policy', async () => {
  const { browser, submit } = await startLogin();
  const posted = await submit('mo');
  // Post/Redirect/Get: the answer to the form is a 303 to the step page, which shows the challenge.
  expect(posted.status).toBe(303);
  const res = await browser.fetch(new URL(posted.headers.get('location')!, idp.url), { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('/mfa/totp');
  const policy = policyOf(res);
  expectStrictScripts(policy, html);
  expect(formActionOf(policy)).toEqual(["'self'", RP_ORIGIN]);
});

test('response_mode=form_post: the auto-submitting page is allowed by its hash and may post to the redirect_uri', async () => {
  const { browser, submit } = await startLogin({ response_mode: 'form_post' });
  const done = await submit('pat');
  expect(done.status).toBe(303);
  const res = await browser.fetch(new URL(done.headers.get('location')!, idp.url), { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain(`action="${REDIRECT_URI}"`);
  const policy = policyOf(res);
  expect(expectStrictScripts(policy, html)).toBe(1);
  expect(formActionOf(policy)).toEqual(expect.arrayContaining(["'self'", RP_ORIGIN]));
});

test("logout confirmation: form-action allows this origin and the client's post-logout origin", async () => {
  const { browser, submit } = await startLogin();
  const done = await submit('pat');
  expect(done.status).toBe(303);
  const callback = await browser.follow(new URL(done.headers.get('location')!, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
  expect(callback.searchParams.get('code')).toBeTruthy();
  const end = new URL(`${idp.url}/session/end`);
  end.searchParams.set('client_id', client.client_id);
  end.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
  const res = await browser.fetch(end, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('op.logoutForm');
  const policy = policyOf(res);
  expectStrictScripts(policy, html);
  expect(formActionOf(policy)).toEqual(expect.arrayContaining(["'self'", POST_LOGOUT_ORIGIN]));
  expect(formActionOf(policy)).not.toContain('*');
});

test('logout without a session: the auto-submitting form is allowed by its hash', async () => {
  const end = new URL(`${idp.url}/session/end`);
  end.searchParams.set('client_id', client.client_id);
  end.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
  const res = await new Browser().fetch(end, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  const html = await res.text();
  const policy = policyOf(res);
  expect(expectStrictScripts(policy, html)).toBe(1);
  expect(formActionOf(policy)).toEqual(expect.arrayContaining(["'self'", POST_LOGOUT_ORIGIN]));
});

test("error pages: no unsafe-inline and form-action 'self' only", async () => {
  const res = await fetch(`${idp.url}/auth?client_id=${client.client_id}&redirect_uri=https://evil.example/cb&response_type=code&scope=openid`, {
    headers: { accept: 'text/html' },
  });
  expect(res.status).toBe(400);
  const policy = policyOf(res);
  expectStrictScripts(policy, await res.text());
  expect(formActionOf(policy)).not.toContain('https://evil.example');
});

test('JSON answers carry no policy', async () => {
  const res = await fetch(`${idp.url}/.well-known/openid-configuration`);
  expect(res.headers.get('content-security-policy')).toBeNull();
});
