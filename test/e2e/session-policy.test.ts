import { createHash } from 'node:crypto';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, newUser } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';
import { CHROME_UA, auditEvents, browserAt, liveRecords, patchSettings, signInOidc, silent } from '../helpers/sessions.js';
import { Browser } from '../helpers/browser.js';

const HOUR = 60 * MINUTE;
const sha256 = (v: string) => createHash('sha256').update(v).digest('base64url');

describe('session policy: records, per-organisation timeouts, remember me', () => {
  const clock = new FakeClock();
  let idp: TestIdp;
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('session-policy', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'] }, { clock });
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await patchSettings(idp.url, 'sp-short', { sessions: { idle_timeout: 120, session_timeout: 600 } });
    await patchSettings(idp.url, 'sp-long', { sessions: { idle_timeout: 3000 } });
    await patchSettings(idp.url, 'sp-noremember', { sessions: { allow_remember_me: false } });
  });
  afterEach(() => clock.reset());
  afterAll(async () => {
    await idp.stop();
  });

  test('a sign-in records its session: address through the trusted proxy, user agent, browser family, device key, assurance', async () => {
    const user = await newUser(idp.url, 'sp-rec');
    const { browser, login } = await signInOidc(config, user.username, { browser: browserAt('203.0.113.9') });
    expect(login.sessions_ended).toBeUndefined();
    const [record, ...more] = await liveRecords(idp.container, user.id);
    expect(more).toHaveLength(0);
    const deviceCookie = browser.cookies().get('idp_device_key')!;
    expect(deviceCookie).toMatch(/^[\w-]{43}$/);
    expect(record).toMatchObject({
      ip: '203.0.113.9',
      userAgent: CHROME_UA,
      uaFamily: 'Chrome/Windows',
      deviceKey: sha256(deviceCookie),
      acr: 'aal1',
      amr: ['pwd'],
      rememberMe: false,
      idleSeconds: idp.container.config.session.idleSeconds,
    });
    expect(record!.endsAt.getTime() - record!.authTime.getTime()).toBe(idp.container.config.session.absoluteSeconds * 1000);
  });

  test('the device-key cookie is long-lived, httpOnly and SameSite=Lax', async () => {
    const user = await newUser(idp.url, 'sp-cookie');
    const browser = browserAt('203.0.113.10');
    const lines: string[] = [];
    const original = browser.fetch.bind(browser);
    browser.fetch = async (input, init) => {
      const res = await original(input, init);
      lines.push(...res.headers.getSetCookie());
      return res;
    };
    await signInOidc(config, user.username, { browser });
    const line = lines.find((l) => l.startsWith('idp_device_key='))!;
    expect(line).toMatch(/httponly/i);
    expect(line).toMatch(/samesite=lax/i);
    const expires = Date.parse(/expires=([^;]+)/i.exec(line)![1]!);
    expect(expires - Date.now()).toBeGreaterThan(300 * 24 * HOUR);
  });

  test("idle_timeout of the account's organisation ends its sessions; the global default keeps others", async () => {
    const short = await newUser(idp.url, 'sp-idle-a', { organization: 'sp-short' });
    const global = await newUser(idp.url, 'sp-idle-b');
    const a = await signInOidc(config, short.username);
    const b = await signInOidc(config, global.username);
    clock.advance(60_000);
    expect(await silent(config, a.browser)).toBe('code');
    clock.advance(130_000);
    expect(await silent(config, a.browser)).toBe('login_required');
    expect(await silent(config, b.browser)).toBe('code');
    const ended = await auditEvents(idp.container, 'session.ended', short.id);
    // Counted once, however often the dead session is tried.
    expect(await silent(config, a.browser)).toBe('login_required');
    expect((await auditEvents(idp.container, 'session.ended', short.id)).map((e) => e.data.reason)).toEqual(['idle_timeout']);
    expect(ended).toHaveLength(1);
  });

  test('continuous activity does not extend a session past session_timeout', async () => {
    const user = await newUser(idp.url, 'sp-abs', { organization: 'sp-short' });
    const { browser } = await signInOidc(config, user.username);
    // Used every 90 s (inside the 120-s idle limit): only the 600-s lifetime can end it.
    let outcome = 'code';
    let elapsed = 0;
    while (outcome === 'code' && elapsed < 1200) {
      clock.advance(90_000);
      elapsed += 90;
      outcome = await silent(config, browser);
    }
    expect(outcome).toBe('login_required');
    expect(elapsed).toBeGreaterThan(600);
    expect(elapsed).toBeLessThanOrEqual(690);
    expect((await auditEvents(idp.container, 'session.ended', user.id)).map((e) => e.data.reason)).toEqual(['session_timeout']);
  });

  test('an organisation overrides the global setting, which applies to every other organisation', async () => {
    await patchSettings(idp.url, undefined, { sessions: { idle_timeout: 200 } });
    try {
      const long = await newUser(idp.url, 'sp-ov-a', { organization: 'sp-long' });
      const global = await newUser(idp.url, 'sp-ov-b');
      const a = await signInOidc(config, long.username);
      const b = await signInOidc(config, global.username);
      clock.advance(300_000);
      expect(await silent(config, a.browser)).toBe('code');
      expect(await silent(config, b.browser)).toBe('login_required');
    } finally {
      await patchSettings(idp.url, undefined, { sessions: { idle_timeout: idp.container.config.session.idleSeconds } });
    }
  });

  test('a tightened setting applies to sessions already signed in', async () => {
    await patchSettings(idp.url, 'sp-tighten', { sessions: { idle_timeout: 3000 } });
    const user = await newUser(idp.url, 'sp-tight', { organization: 'sp-tighten' });
    const { browser } = await signInOidc(config, user.username);
    clock.advance(200_000);
    expect(await silent(config, browser)).toBe('code');
    await patchSettings(idp.url, 'sp-tighten', { sessions: { idle_timeout: 100 } });
    clock.advance(150_000);
    expect(await silent(config, browser)).toBe('login_required');
  });

  test('the self-service API refuses a cookie session past its idle timeout (401 login_required)', async () => {
    const user = await newUser(idp.url, 'sp-ss', { organization: 'sp-short' });
    const { browser } = await signInOidc(config, user.username);
    expect((await browser.json(`${idp.url}/api/v1/me`)).status).toBe(200);
    clock.advance(130_000);
    const me = await browser.json(`${idp.url}/api/v1/me`);
    expect(me.status).toBe(401);
    expect(me.body.error).toBe('login_required');
  });

  test('use marks a session active (at most once a minute), which keeps it from the idle timeout', async () => {
    const user = await newUser(idp.url, 'sp-touch', { organization: 'sp-short' });
    const { browser } = await signInOidc(config, user.username);
    const [before] = await liveRecords(idp.container, user.id);
    clock.advance(10_000);
    expect(await silent(config, browser)).toBe('code');
    // 10 s after the sign-in: not yet written again (the idle limit is 120 s, so every 40 s at most).
    expect((await liveRecords(idp.container, user.id))[0]!.lastActiveAt).toEqual(before!.lastActiveAt);
    clock.advance(50_000);
    expect(await silent(config, browser)).toBe('code');
    const [after] = await liveRecords(idp.container, user.id);
    expect(after!.lastActiveAt.getTime()).toBeGreaterThan(before!.lastActiveAt.getTime());
  });

  test('a session signed in before sessions were recorded falls back to the configured lifetime', async () => {
    const user = await newUser(idp.url, 'sp-legacy', { organization: 'sp-short' });
    const { browser } = await signInOidc(config, user.username);
    await idp.container.db.deleteFrom('sessionRecords').where('userId', '=', user.id).execute();
    // Not the organisation's 120-s idle limit (nothing records the session's use), but the configured lifetime.
    clock.advance(300_000);
    expect(await silent(config, browser)).toBe('code');
    clock.advance(idp.container.config.session.absoluteSeconds * 1000);
    expect(await silent(config, browser)).toBe('login_required');
  });

  test('a logout at the provider removes the session record', async () => {
    const user = await newUser(idp.url, 'sp-logout');
    const { browser, tokens } = await signInOidc(config, user.username);
    expect(await liveRecords(idp.container, user.id)).toHaveLength(1);
    const end = new URL(`${idp.url}/session/end`);
    end.searchParams.set('id_token_hint', tokens.id_token!);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await (await browser.fetch(end)).text())![1]!;
    const confirm = await browser.fetch(`${idp.url}/session/end/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    expect(confirm.status).toBe(303);
    const rows = await idp.container.db.selectFrom('sessionRecords').select('id').where('userId', '=', user.id).execute();
    expect(rows).toEqual([]);
  });

  test('session ends are counted by reason', async () => {
    const metric = async () => (await idp.container.metrics.registry.getSingleMetric('idp_session_ends_total')!.get()).values;
    const count = async (reason: string) => (await metric()).find((v) => v.labels.reason === reason)?.value ?? 0;
    const before = await count('idle_timeout');
    const user = await newUser(idp.url, 'sp-metric', { organization: 'sp-short' });
    const { browser } = await signInOidc(config, user.username);
    clock.advance(130_000);
    expect(await silent(config, browser)).toBe('login_required');
    expect(await silent(config, browser)).toBe('login_required');
    expect(await count('idle_timeout')).toBe(before + 1);
  });

  describe('keep me signed in', () => {
    /** The session cookie lines the sign-in set. */
    async function sessionCookies(username: string, remember: boolean | undefined) {
      const browser = browserAt('198.51.100.20');
      const lines: string[] = [];
      const original = browser.fetch.bind(browser);
      browser.fetch = async (input, init) => {
        const res = await original(input, init);
        lines.push(...res.headers.getSetCookie().filter((l) => /^(__Host-)?idp_session=/.test(l) && !/01 Jan 1970/.test(l)));
        return res;
      };
      const result = await signInOidc(config, username, { browser, remember });
      return { ...result, lines };
    }
    const expiresOf = (line: string) => {
      const m = /expires=([^;]+)/i.exec(line);
      return m ? Date.parse(m[1]!) : undefined;
    };

    test('without it the SSO cookie is a browser-session cookie; with it the cookie persists', async () => {
      const user = await newUser(idp.url, 'sp-rm-a');
      const plain = await sessionCookies(user.username, undefined);
      expect(plain.lines.length).toBeGreaterThan(0);
      for (const line of plain.lines) expect(expiresOf(line)).toBeUndefined();
      const kept = await sessionCookies(user.username, true);
      const expires = expiresOf(kept.lines.at(-1)!)!;
      // An AAL1 session remembered: up to remember_me_duration (30 days by default).
      expect(expires - Date.now()).toBeGreaterThan(29 * 24 * HOUR);
      const records = await liveRecords(idp.container, user.id);
      expect(records.map((r) => r.rememberMe).sort()).toEqual([false, true]);
    });

    test('a remembered AAL1 session outlives session_timeout and the idle timeout; an unremembered one does not', async () => {
      const user = await newUser(idp.url, 'sp-rm-b');
      const plain = await signInOidc(config, user.username);
      const kept = await signInOidc(config, user.username, { remember: true });
      clock.advance(13 * HOUR);
      expect(await silent(config, plain.browser)).toBe('login_required');
      expect(await silent(config, kept.browser)).toBe('code');
      clock.advance(30 * 24 * HOUR);
      expect(await silent(config, kept.browser)).toBe('login_required');
    });

    test('the sign-in page offers the checkbox only where allowed, and a refused choice is ignored', async () => {
      const page = await (await beginPage(config)).text();
      expect(page).toContain('name="remember_me"');
      await patchSettings(idp.url, undefined, { sessions: { allow_remember_me: false } });
      try {
        expect(await (await beginPage(config)).text()).not.toContain('name="remember_me"');
      } finally {
        await patchSettings(idp.url, undefined, { sessions: { allow_remember_me: true } });
      }
      const user = await newUser(idp.url, 'sp-rm-c', { organization: 'sp-noremember' });
      const { lines } = await sessionCookies(user.username, true);
      for (const line of lines) expect(expiresOf(line)).toBeUndefined();
      expect((await liveRecords(idp.container, user.id))[0]!.rememberMe).toBe(false);
    });

    test('a remember_me that is not a yes or no is refused as bad input (400), not taken as yes', async () => {
      const user = await newUser(idp.url, 'sp-rm-e');
      const browser = browserAt('198.51.100.23');
      const url = oc.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:9/cb',
        scope: 'openid',
        code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const landed = await browser.follow(url, (u) => u.pathname.startsWith('/interaction/'));
      for (const hostile of ['yes', 1, { $ne: false }, ['on']]) {
        const res = await browser.json(`${landed.href}/login`, { username: user.username, password: 'correct horse battery staple', remember_me: hostile });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
      }
      expect(await liveRecords(idp.container, user.id)).toEqual([]);
    });

    test('the HTML form carries the choice from the password step to the finish', async () => {
      const user = await newUser(idp.url, 'sp-rm-d');
      const browser = browserAt('198.51.100.21');
      const res = await beginPage(config, browser);
      const html = await res.text();
      const uid = /action="\/interaction\/([^/]+)\/login"/.exec(html)![1]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
      const post = await browser.fetch(`${idp.url}/interaction/${uid}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, username: user.username, password: 'correct horse battery staple', remember_me: 'on' }).toString(),
      });
      expect(post.status).toBe(303);
      await browser.follow(new URL(post.headers.get('location')!, idp.url), (u) => u.href.startsWith('http://127.0.0.1:9/cb'));
      expect((await liveRecords(idp.container, user.id))[0]!.rememberMe).toBe(true);
    });
  });

  /** The sign-in page of a new authorization request, as a browser gets it. */
  async function beginPage(cfg: oc.Configuration, browser: Browser = browserAt('198.51.100.22')): Promise<Response> {
    const url = oc.buildAuthorizationUrl(cfg, {
      redirect_uri: 'http://127.0.0.1:9/cb',
      scope: 'openid',
      code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const landed = await browser.follow(url, (u) => u.pathname.startsWith('/interaction/'));
    return browser.fetch(landed);
  }
});
