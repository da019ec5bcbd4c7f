/**
 * The passkey parts of the hosted pages, at the HTML level (no browser runs the script here): the
 * assets the pages load, the passkey form and autofill hint on the login page, the choice of method
 * on the enrolment page, passkey first on the challenge page, and passkey answers posted as forms.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, PASSWORD, beginAuth, newUser, passwordStep, seedTotp, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
let idp: TestIdp;
let config: oc.Configuration;

const BASE = { policy: 'any', enforce_enrollment: false, grace_period_seconds: 0, required_for_roles: [] as string[], trusted_device_duration_days: 0 };

beforeAll(async () => {
  idp = await startTestIdp('passkey-pages', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } }, { clock });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(async () => {
  clock.reset();
  // Long pauses on the IdP clock between uses of a session: its idle timeout is not what these tests are about.
  await idp.container.settings.patchGlobal({ mfa: BASE, sessions: { idle_timeout: 43_200 } });
});

const origin = () => new URL(idp.url).origin;
const uidOf = (flow: Flow) => flow.interactionUrl!.pathname.split('/')[2]!;
const csrfOf = (html: string) => /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)![1]!;
/** The opening tag of the form with this action. */
const formTag = (html: string, action: string) => new RegExp(`<form [^>]*action="${action}"[^>]*>`).exec(html)?.[0];

async function page(browser: Browser, url: string | URL) {
  const res = await browser.fetch(url, { headers: { accept: 'text/html' } });
  return { status: res.status, html: await res.text(), res };
}

async function postForm(browser: Browser, url: string, fields: Record<string, string>) {
  const res = await browser.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams(fields),
  });
  return { status: res.status, html: await res.text(), res };
}

/** A form post that shows a page: answered with a 303 to the step page (Post/Redirect/Get), which the browser then shows. */
async function postFormPage(browser: Browser, flow: Flow, path: string, fields: Record<string, string>) {
  const posted = await postForm(browser, `${flow.interactionUrl!.href}/${path}`, fields);
  expect(posted.status).toBe(303);
  expect(new URL(posted.res.headers.get('location')!, flow.interactionUrl).href).toBe(flow.interactionUrl!.href);
  return page(browser, flow.interactionUrl!);
}

/** Every script on the page comes from our origin or is data; nothing runs inline. */
function expectNoInlineScript(html: string) {
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts.length).toBeGreaterThan(0);
  for (const tag of scripts) expect(tag).toMatch(/ src="\/assets\/[a-z-]+\.js"| type="application\/json"/);
}

function expectStrictCsp(res: Response) {
  const directives = res.headers.get('content-security-policy')!.split(';');
  expect(directives).toContain("script-src 'self'");
  expect(directives.filter((d) => d.startsWith('script-src'))).toEqual(["script-src 'self'", "script-src-attr 'none'"]);
}

/** A user with a passkey registered in self-service (signed in with the password just before). */
async function userWithPasskey(label: string) {
  const user = await newUser(idp.url, label);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  await flow.complete(login.body.redirect_to);
  const authenticator = new SoftAuthenticator({ origin: origin() });
  const options = await flow.browser.json(`${idp.url}/api/v1/mfa/passkey/register/begin`, {});
  const credential = await authenticator.create(options.body, { origin: origin() });
  expect((await flow.browser.json(`${idp.url}/api/v1/mfa/passkey/register/finish`, { credential })).status).toBe(201);
  return { user, authenticator };
}

describe('assets', () => {
  test('the WebAuthn browser bundle and passkey.js: JavaScript, cacheable, revalidated by ETag', async () => {
    const browser = new Browser();
    const expected = {
      'simplewebauthn-browser.js': readFileSync('node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js', 'utf8'),
      'passkey.js': readFileSync('assets/passkey.js', 'utf8'),
    };
    for (const [name, body] of Object.entries(expected)) {
      const res = await browser.fetch(`${idp.url}/assets/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(body);
      // undici's request, not fetch: fetch adds `Cache-Control: no-cache` to a conditional request, which rightly defeats a 304.
      const again = await request(`${idp.url}/assets/${name}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      await again.body.dump();
      expect(again.statusCode).toBe(304);
    }
    expect(expected['simplewebauthn-browser.js']).toContain('SimpleWebAuthnBrowser');
  });

  test.each([['/assets/nothing.js'], ['/assets'], ['/assets/'], ['/assets/passkey.js/x'], ['/assets/%2e%2e%2fpackage.json'], ['/assets/index.umd.min.js']])(
    '%s → 404 JSON',
    async (path) => {
      const res = await new Browser().fetch(`${idp.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual({ error: 'not_found', error_description: expect.any(String) });
    },
  );

  test('only GET: a POST to an asset is a 404 JSON too', async () => {
    const res = await new Browser().fetch(`${idp.url}/assets/passkey.js`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe('not_found');
  });
});

describe('login page', () => {
  test('a passkey form for the passwordless endpoints, autofill on the username, the password form unchanged, scripts from our origin only', async () => {
    const flow = await beginAuth(config);
    const uid = uidOf(flow);
    const { status, html, res } = await page(flow.browser, flow.interactionUrl!);
    expect(status).toBe(200);
    const passkey = formTag(html, `/interaction/${uid}/passkey/finish`);
    expect(passkey).toContain('data-passkey="authenticate"');
    expect(passkey).toContain(`data-begin="/interaction/${uid}/passkey/begin"`);
    expect(passkey).toContain('data-conditional');
    expect(html).toContain('Sign in with a passkey');
    expect(html).toMatch(/<input id="username" name="username" type="text" autocomplete="username webauthn"/);
    // The password form needs no script.
    expect(formTag(html, `/interaction/${uid}/login`)).not.toContain('data-passkey');
    expect(html).toContain('<script src="/assets/simplewebauthn-browser.js" defer></script>');
    expect(html).toContain('<script src="/assets/passkey.js" defer></script>');
    expectNoInlineScript(html);
    expectStrictCsp(res);
  });

  test('the reauth page has neither the passkey form nor the autofill hint', async () => {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true, grace_period_seconds: 3600 } });
    const user = await newUser(idp.url, 'pp-reauth');
    const browser = new Browser();
    const { flow, login } = await passwordStep(config, user.username, PASSWORD, { browser });
    await flow.complete(login.body.redirect_to);
    clock.advance(61 * MINUTE);
    const again = await beginAuth(config, { browser });
    expect((await again.details()).body.step).toBe('reauth');
    const { status, html } = await page(browser, again.interactionUrl!);
    expect(status).toBe(200);
    expect(html).toContain('Confirm your password');
    expect(html).not.toContain('webauthn');
    expect(html).not.toContain('data-passkey');
    expect(html).not.toContain('/passkey/');
  });

  test('a form post of a passkey for another challenge leads back to the login page, with the error; the right one redirects onward with 303', async () => {
    const { user, authenticator } = await userWithPasskey('pp-form');
    const flow = await beginAuth(config);
    const uid = uidOf(flow);
    const csrf = csrfOf((await page(flow.browser, flow.interactionUrl!)).html);
    const finish = `${flow.interactionUrl!.href}/passkey/finish`;

    const options = (await flow.post('passkey/begin')).body;
    const elsewhere = await authenticator.get({ ...options, challenge: randomBytes(32).toString('base64url') }, { origin: origin() });
    const wrong = await postFormPage(flow.browser, flow, 'passkey/finish', { csrf, credential: JSON.stringify(elsewhere) });
    expect(wrong.status).toBe(200);
    expect(wrong.res.headers.get('content-type')).toMatch(/text\/html/);
    expect(wrong.html).toContain('<p class="error" role="alert">That passkey was not accepted. Try again.</p>');
    // The login page again, with both ways to sign in.
    expect(formTag(wrong.html, `/interaction/${uid}/login`)).toBeDefined();
    expect(formTag(wrong.html, `/interaction/${uid}/passkey/finish`)).toBeDefined();
    expect(csrfOf(wrong.html)).toBe(csrf);
    expectStrictCsp(wrong.res);

    const fresh = (await flow.post('passkey/begin')).body;
    const right = await postForm(flow.browser, finish, { csrf, credential: JSON.stringify(await authenticator.get(fresh, { origin: origin() })) });
    expect(right.status).toBe(303);
    const { claims } = await flow.complete(right.res.headers.get('location')!);
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
  });

  test('the form post needs its csrf token', async () => {
    const { authenticator } = await userWithPasskey('pp-csrf');
    const flow = await beginAuth(config);
    const options = (await flow.post('passkey/begin')).body;
    const credential = JSON.stringify(await authenticator.get(options, { origin: origin() }));
    const res = await postForm(flow.browser, `${flow.interactionUrl!.href}/passkey/finish`, { credential });
    expect(res.status).toBe(403);
    expect(res.res.headers.get('location')).toBeNull();
  });
});

describe('enrolment page', () => {
  async function atEnrolment(label: string) {
    await idp.container.settings.patchGlobal({ mfa: { enforce_enrollment: true } });
    const user = await newUser(idp.url, label);
    const flow = await beginAuth(config);
    const csrf = csrfOf((await page(flow.browser, flow.interactionUrl!)).html);
    const login = await postFormPage(flow.browser, flow, 'login', { csrf, username: user.username, password: PASSWORD });
    expect(login.status).toBe(200);
    return { user, flow, csrf, first: login.html };
  }

  test('both offered methods are reachable from each other; JSON answers are unchanged', async () => {
    const { flow, first } = await atEnrolment('pp-choice');
    const uid = uidOf(flow);
    // The first offered method by default, with a link to the other.
    expect(first).toContain('Set up your authenticator app');
    expect(first).toContain('<strong aria-current="page">Authenticator app</strong>');
    expect(first).toContain(`<a href="/interaction/${uid}?enroll=passkey">Passkey or security key</a>`);

    const passkey = await page(flow.browser, `${flow.interactionUrl!.href}?enroll=passkey`);
    expect(passkey.status).toBe(200);
    expect(passkey.html).toContain('<h1>Create a passkey</h1>');
    expect(passkey.html).toContain('<strong aria-current="page">Passkey or security key</strong>');
    expect(passkey.html).toContain(`<a href="/interaction/${uid}?enroll=totp">Authenticator app</a>`);
    expect(formTag(passkey.html, `/interaction/${uid}/enroll/passkey/confirm`)).toContain('data-passkey="register"');
    const options = JSON.parse(/<script type="application\/json" data-options>([^<]*)<\/script>/.exec(passkey.html)![1]!);
    expect(options).toMatchObject({ rp: { id: 'localhost' }, challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expectNoInlineScript(passkey.html);
    expectStrictCsp(passkey.res);

    const back = await page(flow.browser, `${flow.interactionUrl!.href}?enroll=totp`);
    expect(back.status).toBe(200);
    expect(back.html).toContain('Set up your authenticator app');
    expect(formTag(back.html, `/interaction/${uid}/enroll/totp/confirm`)).toBeDefined();

    const json = await flow.browser.json(`${flow.interactionUrl!.href}?enroll=passkey`);
    expect(json.body).toEqual({
      uid,
      step: 'enroll',
      client_id: config.clientMetadata().client_id,
      methods: ['totp', 'passkey'],
      allowed_methods: ['totp', 'passkey'],
    });
  });

  test.each([['backup-code'], ['password'], ['<b>x</b>']])('?enroll=%s (not offered) → 400, and no enrolment page', async (method) => {
    const { flow } = await atEnrolment('pp-unoffered');
    const res = await page(flow.browser, `${flow.interactionUrl!.href}?enroll=${encodeURIComponent(method)}`);
    expect(res.status).toBe(400);
    expect(res.html).not.toContain('data-passkey');
    expect(res.html).not.toContain('<b>x</b>');
    expect((await page(flow.browser, `${flow.interactionUrl!.href}?enroll=totp&enroll=passkey`)).status).toBe(400);
  });

  test("the passkey page's options, answered and posted as a form, enrol the passkey and finish the login", async () => {
    const { user, flow, csrf } = await atEnrolment('pp-enrol');
    const { html } = await page(flow.browser, `${flow.interactionUrl!.href}?enroll=passkey`);
    const options = JSON.parse(/<script type="application\/json" data-options>([^<]*)<\/script>/.exec(html)![1]!);
    const credential = await new SoftAuthenticator({ origin: origin() }).create(options, { origin: origin() });
    const res = await postForm(flow.browser, `${flow.interactionUrl!.href}/enroll/passkey/confirm`, {
      csrf,
      name: 'Laptop',
      credential: JSON.stringify(credential),
    });
    // A first factor: its backup codes are shown once, and saved, before the login goes on.
    expect(res.status).toBe(303);
    expect(res.res.headers.get('location')).toBe(`/interaction/${uidOf(flow)}/backup-codes`);
    const codes = await page(flow.browser, `${idp.url}${res.res.headers.get('location')!}`);
    expect(codes.html.match(/<li>[0-9A-Z]{5}-[0-9A-Z]{5}<\/li>/g)).toHaveLength(10);
    const saved = await postForm(flow.browser, `${flow.interactionUrl!.href}/backup-codes`, { csrf, saved: 'on' });
    expect(saved.status).toBe(303);
    const { claims } = await flow.complete(saved.res.headers.get('location')!);
    expect(claims.sub).toBe(user.id);
    const stored = await new Browser().fetch(`${idp.url}/api/v1/users/${user.id}/passkeys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(((await stored.json()) as { passkeys: { name: string }[] }).passkeys.map((p) => p.name)).toEqual(['Laptop']);
  });
});

describe('challenge page', () => {
  test('passkey first; the other methods under "Try another way", unfolded until the script finds WebAuthn', async () => {
    const { user } = await userWithPasskey('pp-mfa');
    await seedTotp(idp.container, user.id);
    const flow = await beginAuth(config);
    const uid = uidOf(flow);
    const csrf = csrfOf((await page(flow.browser, flow.interactionUrl!)).html);
    const login = await postFormPage(flow.browser, flow, 'login', { csrf, username: user.username, password: PASSWORD });
    expect(login.status).toBe(200);
    const html = login.html;
    const passkeyAt = html.indexOf(`action="/interaction/${uid}/mfa/passkey/finish"`);
    const foldAt = html.indexOf('<details data-passkey-others open>\n  <summary>Try another way</summary>');
    const totpAt = html.indexOf(`action="/interaction/${uid}/mfa/totp"`);
    const foldEnd = html.indexOf('</details>', foldAt);
    expect(passkeyAt).toBeGreaterThan(0);
    expect(foldAt).toBeGreaterThan(passkeyAt);
    expect(totpAt).toBeGreaterThan(foldAt);
    expect(foldEnd).toBeGreaterThan(totpAt);
    expect(formTag(html, `/interaction/${uid}/mfa/passkey/finish`)).toContain(`data-begin="/interaction/${uid}/mfa/passkey/begin"`);
    expectNoInlineScript(html);
    expectStrictCsp(login.res);
  });

  test('without a passkey among the methods, nothing is folded', async () => {
    const user = await newUser(idp.url, 'pp-totp');
    await seedTotp(idp.container, user.id);
    const flow = await beginAuth(config);
    const csrf = csrfOf((await page(flow.browser, flow.interactionUrl!)).html);
    const login = await postFormPage(flow.browser, flow, 'login', { csrf, username: user.username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.html).toContain(`action="/interaction/${uidOf(flow)}/mfa/totp"`);
    expect(login.html).not.toContain('Try another way');
    expect(login.html).not.toContain('data-passkey');
  });

  test('a wrong passkey posted as a form leads back to the challenge page, with the error', async () => {
    const { user, authenticator } = await userWithPasskey('pp-mfa-wrong');
    await seedTotp(idp.container, user.id);
    const flow = await beginAuth(config);
    const csrf = csrfOf((await page(flow.browser, flow.interactionUrl!)).html);
    await postForm(flow.browser, `${flow.interactionUrl!.href}/login`, { csrf, username: user.username, password: PASSWORD });
    const options = (await flow.post('mfa/passkey/begin')).body;
    const elsewhere = await authenticator.get({ ...options, challenge: randomBytes(32).toString('base64url') }, { origin: origin() });
    const res = await postFormPage(flow.browser, flow, 'mfa/passkey/finish', { csrf, credential: JSON.stringify(elsewhere) });
    expect(res.status).toBe(200);
    expect(res.html).toContain('That passkey was not accepted. Try again.');
    expect(res.html).toContain('Try another way');
  });
});
