import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { startLogoutReceiver, verifyLogoutToken } from '../helpers/backchannel.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock, MINUTE, PASSWORD, codeAt, newUser, seedTotp } from '../helpers/mfa-flow.js';
import { authorize, discover, oc, registerClient } from '../helpers/rp.js';
import { CHROME_UA, FIREFOX_UA, auditEvents, browserAt, liveRecords, patchSettings, signInOidc, signInUntilCallback, silent } from '../helpers/sessions.js';

describe('session policy: concurrent sessions, bindings, assurance, refresh-token rotation', () => {
  const clock = new FakeClock();
  let idp: TestIdp;
  let config: oc.Configuration;
  const receiver = { current: undefined as unknown as Awaited<ReturnType<typeof startLogoutReceiver>> };

  beforeAll(async () => {
    idp = await startTestIdp('session-limits', 'postgres+redis', { trustedProxies: ['127.0.0.1', '::1'] }, { clock });
    receiver.current = await startLogoutReceiver();
    const client = await registerClient(idp.url, { first_party: true, backchannel_logout_uri: `${receiver.current.url}/bc` });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await patchSettings(idp.url, 'sl-three', { sessions: { max_concurrent_sessions: 3 } });
    await patchSettings(idp.url, 'sl-single', { sessions: { single_session_mode: true } });
    await patchSettings(idp.url, 'sl-ip', { sessions: { bind_to_ip: true } });
    await patchSettings(idp.url, 'sl-device', { sessions: { bind_to_device: true } });
    await patchSettings(idp.url, 'sl-norotate', { sessions: { rotate_refresh_tokens: false } });
  });
  afterEach(() => clock.reset());
  afterAll(async () => {
    await receiver.current.close();
    await idp.stop();
  });

  describe('max_concurrent_sessions and single_session_mode', () => {
    test('10 parallel logins of one user with a limit of 3 leave exactly 3 sessions; the other 7 cookies no longer work', async () => {
      const user = await newUser(idp.url, 'sl-par', { organization: 'sl-three' });
      const browsers = Array.from({ length: 10 }, (_, i) => browserAt(`198.51.100.${100 + i}`));
      await Promise.all(browsers.map((browser) => signInUntilCallback(config, user.username, browser)));
      const live = await liveRecords(idp.container, user.id);
      expect(live).toHaveLength(3);
      const outcomes = await Promise.all(browsers.map((b) => silent(config, b)));
      expect(outcomes.filter((o) => o === 'code')).toHaveLength(3);
      expect(outcomes.filter((o) => o === 'login_required')).toHaveLength(7);
      // The three left are the newest three, in the deterministic order (created_at, id).
      expect((await auditEvents(idp.container, 'session.ended', user.id)).every((e) => e.data.reason === 'max_concurrent_sessions')).toBe(true);
      expect(await auditEvents(idp.container, 'session.ended', user.id)).toHaveLength(7);
    });

    test('the login answer says how many sessions were ended to make room; the oldest goes, over the back channel too', async () => {
      const user = await newUser(idp.url, 'sl-seq', { organization: 'sl-three' });
      const first = await signInOidc(config, user.username, { browser: browserAt('198.51.100.1') });
      const sid = first.tokens.claims()!.sid as string;
      const others = [];
      for (let i = 2; i <= 3; i++) others.push(await signInOidc(config, user.username, { browser: browserAt(`198.51.100.${i}`) }));
      expect(others.map((o) => o.login.sessions_ended)).toEqual([undefined, undefined]);
      const before = receiver.current.received.length;
      const fourth = await signInOidc(config, user.username, { browser: browserAt('198.51.100.4') });
      expect(fourth.login.sessions_ended).toBe(1);
      expect(await silent(config, first.browser)).toBe('login_required');
      for (const o of [...others, fourth]) expect(await silent(config, o.browser)).toBe('code');
      const delivered = (await receiver.current.waitFor(before + 1)).slice(before);
      expect(delivered).toHaveLength(1);
      const { payload } = await verifyLogoutToken(idp.url, config.clientMetadata().client_id, delivered[0]!.logoutToken);
      expect(payload.sid).toBe(sid);
      expect(payload.sub).toBe(user.id);
      // Its refresh token went with it.
      await expect(oc.refreshTokenGrant(config, first.tokens.refresh_token!)).rejects.toThrow();
    });

    test('single_session_mode: a new login ends the previous session', async () => {
      const user = await newUser(idp.url, 'sl-one', { organization: 'sl-single' });
      const a = await signInOidc(config, user.username, { browser: browserAt('198.51.100.31') });
      const b = await signInOidc(config, user.username, { browser: browserAt('198.51.100.32') });
      expect(b.login.sessions_ended).toBe(1);
      expect(await silent(config, a.browser)).toBe('login_required');
      expect(await silent(config, b.browser)).toBe('code');
      // Signing in again in the same browser raises its session: nothing else to end.
      const again = await signInOidc(config, user.username, { browser: b.browser, params: { prompt: 'login' } });
      expect(again.login.sessions_ended).toBeUndefined();
      expect(await liveRecords(idp.container, user.id)).toHaveLength(1);
    });

    test('without a limit, sessions add up', async () => {
      const user = await newUser(idp.url, 'sl-none');
      for (let i = 0; i < 4; i++) await signInOidc(config, user.username, { browser: browserAt(`198.51.100.${40 + i}`) });
      expect(await liveRecords(idp.container, user.id)).toHaveLength(4);
    });
  });

  describe('bind_to_ip', () => {
    test('a session cookie used from another IPv4 address asks for the login again, and is audited', async () => {
      const user = await newUser(idp.url, 'sl-ip4', { organization: 'sl-ip' });
      const { browser } = await signInOidc(config, user.username, { browser: browserAt('203.0.113.50') });
      expect(await silent(config, browser)).toBe('code');
      browser.headers['x-forwarded-for'] = '203.0.113.51';
      expect(await silent(config, browser)).toBe('login_required');
      // Not prompt=none: the sign-in page.
      const url = oc.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:9/cb',
        scope: 'openid',
        code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const landed = await browser.follow(url, (u) => u.pathname.startsWith('/interaction/') || u.href.startsWith('http://127.0.0.1:9/cb'));
      expect(landed.pathname).toMatch(/^\/interaction\//);
      expect((await browser.json(`${idp.url}/api/v1/me`)).status).toBe(401);
      const events = await auditEvents(idp.container, 'session.binding_mismatch', user.id);
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events[0]!.data.kind).toBe('ip');
      const refusals = (await idp.container.metrics.registry.getSingleMetric('idp_session_binding_refusals_total')!.get()).values;
      expect(refusals.find((v) => v.labels.kind === 'ip')?.value).toBeGreaterThanOrEqual(events.length);
      // Back at the address it was signed in from, it works again.
      browser.headers['x-forwarded-for'] = '203.0.113.50';
      expect(await silent(config, browser)).toBe('code');
      expect((await browser.json(`${idp.url}/api/v1/me`)).status).toBe(200);
    });

    test('IPv6: the same /64 is the same client; another /64 is not', async () => {
      const user = await newUser(idp.url, 'sl-ip6', { organization: 'sl-ip' });
      const { browser } = await signInOidc(config, user.username, { browser: browserAt('2001:db8:1:2::5') });
      browser.headers['x-forwarded-for'] = '2001:db8:1:2:aaaa::99';
      expect(await silent(config, browser)).toBe('code');
      browser.headers['x-forwarded-for'] = '2001:db8:1:3::5';
      expect(await silent(config, browser)).toBe('login_required');
    });

    test('an address forwarded by an untrusted hop is not believed', async () => {
      const user = await newUser(idp.url, 'sl-ip-x', { organization: 'sl-ip' });
      const { browser } = await signInOidc(config, user.username, { browser: browserAt('203.0.113.60') });
      // The client prepends its own choice; only the right-most untrusted hop counts.
      browser.headers['x-forwarded-for'] = '203.0.113.60, 203.0.113.61';
      expect(await silent(config, browser)).toBe('login_required');
    });
  });

  describe('bind_to_device', () => {
    test('a session cookie replayed from another browser is refused: no device key, or another browser family', async () => {
      const user = await newUser(idp.url, 'sl-dev', { organization: 'sl-device' });
      const { browser } = await signInOidc(config, user.username, { browser: browserAt('203.0.113.70', CHROME_UA) });
      const sameEverything = copyInto(browser, CHROME_UA);
      expect(await silent(config, sameEverything)).toBe('code');
      expect(await silent(config, copyInto(browser, CHROME_UA, 'idp_device_key'))).toBe('login_required');
      expect(await silent(config, copyInto(browser, FIREFOX_UA))).toBe('login_required');
      const events = await auditEvents(idp.container, 'session.binding_mismatch', user.id);
      expect(events.map((e) => e.data.kind)).toEqual(['device', 'device']);
      expect(await silent(config, browser)).toBe('code');
    });

    /** A fresh browser with a copy of `from`'s cookies for localhost (but `leave`). */
    function copyInto(from: Browser, userAgent: string, leave?: string): Browser {
      const thief = new Browser();
      thief.headers['user-agent'] = userAgent;
      thief.headers['x-forwarded-for'] = from.headers['x-forwarded-for']!;
      const header = [...from.cookies('localhost')].filter(([n]) => n !== leave).map(([n, v]) => `${n}=${v}`);
      const fetchWith = thief.fetch.bind(thief);
      thief.fetch = (input, init = {}) => {
        const headers = new Headers(init.headers);
        headers.set('cookie', header.join('; '));
        return fetchWith(input, { ...init, headers });
      };
      return thief;
    }
  });

  describe('remember me and the assurance reached', () => {
    /** Signs in with password and TOTP (AAL2), asking to be remembered. */
    async function signInAal2(label: string, ip: string) {
      const user = await newUser(idp.url, label);
      const secret = await seedTotp(idp.container, user.id);
      const browser = browserAt(ip);
      await authorize(config, {
        browser,
        onStep: async ({ step, interactionUrl }) => {
          if (step !== 'login') throw new Error(`unexpected step ${step}`);
          const login = await browser.json(`${interactionUrl.href}/login`, { username: user.username, password: PASSWORD, remember_me: true });
          expect(login.body.status).toBe('mfa_required');
          const mfa = await browser.json(`${interactionUrl.href}/mfa/totp`, { code: await codeAt(secret, clock.now()) });
          return mfa.body.redirect_to as string;
        },
      });
      return { user, browser };
    }

    test('a remembered AAL2 session idles out like any other', async () => {
      const { user, browser } = await signInAal2('sl-aal2-idle', '198.51.100.60');
      const [record] = await liveRecords(idp.container, user.id);
      expect(record).toMatchObject({ acr: 'aal2', rememberMe: true, idleSeconds: idp.container.config.session.idleSeconds });
      expect(record!.endsAt.getTime() - record!.authTime.getTime()).toBe(idp.container.config.session.absoluteSeconds * 1000);
      clock.advance(25 * MINUTE);
      expect(await silent(config, browser)).toBe('code');
      clock.advance(35 * MINUTE);
      expect(await silent(config, browser)).toBe('login_required');
    });

    test('a remembered AAL2 session used all along still ends at session_timeout (NIST SP 800-63B: 12 h)', async () => {
      const { browser } = await signInAal2('sl-aal2-abs', '198.51.100.61');
      const lifetimeMin = idp.container.config.session.absoluteSeconds / 60;
      let elapsedMin = 0;
      let outcome = 'code';
      while (outcome === 'code' && elapsedMin < lifetimeMin + 60) {
        clock.advance(20 * MINUTE);
        elapsedMin += 20;
        outcome = await silent(config, browser);
      }
      expect(outcome).toBe('login_required');
      expect(elapsedMin).toBeGreaterThanOrEqual(lifetimeMin);
      expect(elapsedMin).toBeLessThanOrEqual(lifetimeMin + 20);
    });
  });

  describe('rotate_refresh_tokens', () => {
    async function refreshTwice(cfg: oc.Configuration, username: string) {
      const { tokens } = await signInOidc(cfg, username, { scope: 'openid offline_access' });
      const first = await oc.refreshTokenGrant(cfg, tokens.refresh_token!);
      const second = await oc.refreshTokenGrant(cfg, tokens.refresh_token!).then(
        () => 'accepted',
        (err: { error?: string }) => err.error ?? 'refused',
      );
      return { rotated: first.refresh_token !== tokens.refresh_token, second };
    }

    test('on (the default), the old refresh token is refused after use; off for an organisation, it works again', async () => {
      const rotating = await newUser(idp.url, 'sl-rot-a');
      expect(await refreshTwice(config, rotating.username)).toEqual({ rotated: true, second: 'invalid_grant' });
      const steady = await newUser(idp.url, 'sl-rot-b', { organization: 'sl-norotate' });
      expect(await refreshTwice(config, steady.username)).toEqual({ rotated: false, second: 'accepted' });
    });

    test("a client's own setting overrides its users' organisations", async () => {
      const off = await registerClient(idp.url, { first_party: true, rotate_refresh_tokens: false });
      const on = await registerClient(idp.url, { first_party: true, rotate_refresh_tokens: true });
      const offConfig = await discover(idp.url, off.client_id, off.client_secret);
      const onConfig = await discover(idp.url, on.client_id, on.client_secret);
      const rotating = await newUser(idp.url, 'sl-rot-c');
      const steady = await newUser(idp.url, 'sl-rot-d', { organization: 'sl-norotate' });
      expect(await refreshTwice(offConfig, rotating.username)).toEqual({ rotated: false, second: 'accepted' });
      expect(await refreshTwice(onConfig, steady.username)).toEqual({ rotated: true, second: 'invalid_grant' });
      const view = await fetch(`${idp.url}/api/v1/clients/${off.client_id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(((await view.json()) as { rotate_refresh_tokens: boolean }).rotate_refresh_tokens).toBe(false);
      const bad = await fetch(`${idp.url}/api/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], rotate_refresh_tokens: 'yes' }),
      });
      expect(bad.status).toBe(400);
    });
  });
});
