import { judgeSession, lifetimeOf, sameClientAddress, ttlOf, type RecordedSession, type SeenFrom } from '../../src/authn/session-lifetime.js';
import type { SessionSettings } from '../../src/policy/settings.js';

const settings: SessionSettings = {
  session_timeout: 3600,
  idle_timeout: 600,
  max_concurrent_sessions: 0,
  single_session_mode: false,
  allow_remember_me: true,
  remember_me_duration: 86_400,
  rotate_refresh_tokens: true,
  bind_to_ip: false,
  bind_to_device: false,
};
const seen: SeenFrom = { ip: '192.0.2.1', uaFamily: 'Chrome/Windows', deviceKey: 'k1' };
const record = (over: Partial<RecordedSession> = {}): RecordedSession => ({
  authTime: 1000,
  endsAt: 1000 + 3600,
  lastActiveAt: 1000,
  idleSeconds: 600,
  rememberMe: false,
  acr: 'aal1',
  ...seen,
  ...over,
});
const judge = (r: RecordedSession | undefined, now: number, s: SessionSettings = settings, from = seen) =>
  judgeSession({ record: r, settings: r && s, defaults: { absoluteSeconds: 7200, idleSeconds: 900 }, authTime: 1000, now, seen: from });

describe('lifetimeOf', () => {
  test('without remember me: session_timeout, idle_timeout, a browser-session cookie', () => {
    expect(lifetimeOf(settings, { ts: 1000, acr: 'aal1' }, false)).toEqual({ endsAt: 4600, idleSeconds: 600, rememberMe: false, persistent: false });
  });
  test('remembered AAL1: remember_me_duration and no idle limit; AAL2 keeps session_timeout and idle_timeout', () => {
    expect(lifetimeOf(settings, { ts: 1000, acr: 'aal1' }, true)).toEqual({ endsAt: 87_400, idleSeconds: 86_400, rememberMe: true, persistent: true });
    expect(lifetimeOf(settings, { ts: 1000, acr: 'aal2' }, true)).toEqual({ endsAt: 4600, idleSeconds: 600, rememberMe: true, persistent: true });
    expect(lifetimeOf(settings, { ts: 1000, acr: 'aal3' }, true).endsAt).toBe(4600);
  });
  test('remember me asked where it is not allowed counts for nothing', () => {
    expect(lifetimeOf({ ...settings, allow_remember_me: false }, { ts: 1000, acr: 'aal1' }, true)).toMatchObject({
      rememberMe: false,
      persistent: false,
      endsAt: 4600,
    });
  });
  test('the idle limit never exceeds the lifetime, and the TTL is at least a second', () => {
    expect(lifetimeOf({ ...settings, idle_timeout: 9000 }, { ts: 0 }, false).idleSeconds).toBe(3600);
    expect(ttlOf({ endsAt: 100, idleSeconds: 50 }, 200)).toBe(1);
    expect(ttlOf({ endsAt: 1000, idleSeconds: 50 }, 200)).toBe(50);
  });
});

describe('judgeSession', () => {
  test('absolute end, then idle limit, each at its second', () => {
    expect(judge(record(), 1599).live).toBe(true);
    expect(judge(record(), 1600)).toEqual({ live: false, reason: 'idle_timeout' });
    expect(judge(record({ lastActiveAt: 4500 }), 4599).live).toBe(true);
    expect(judge(record({ lastActiveAt: 4500 }), 4600)).toEqual({ live: false, reason: 'session_timeout' });
  });
  test('settings in force now only shorten what the record was given', () => {
    expect(judge(record(), 1200, { ...settings, idle_timeout: 100 })).toEqual({ live: false, reason: 'idle_timeout' });
    expect(judge(record(), 1599, { ...settings, idle_timeout: 6000 }).live).toBe(true);
    expect(judge(record(), 1599, { ...settings, session_timeout: 500 })).toEqual({ live: false, reason: 'session_timeout' });
  });
  test('without a record: the configured lifetime from the sign-in', () => {
    expect(judge(undefined, 8199).live).toBe(true);
    expect(judge(undefined, 8200)).toEqual({ live: false, reason: 'session_timeout' });
  });
  test('bindings only when enabled, and only for a use by a browser', () => {
    const elsewhere = { ip: '192.0.2.2', uaFamily: 'Firefox/Linux', deviceKey: 'k2' };
    expect(judge(record(), 1100, settings, elsewhere).live).toBe(true);
    expect(judge(record(), 1100, { ...settings, bind_to_ip: true }, elsewhere)).toEqual({ live: false, reason: 'binding_mismatch', kind: 'ip' });
    expect(judge(record(), 1100, { ...settings, bind_to_device: true }, { ...seen, deviceKey: null })).toMatchObject({ kind: 'device' });
    expect(judge(record(), 1100, { ...settings, bind_to_device: true }, { ...seen, uaFamily: 'Firefox/Windows' })).toMatchObject({ kind: 'device' });
    expect(judge(record({ deviceKey: null }), 1100, { ...settings, bind_to_device: true })).toMatchObject({ kind: 'device' });
    const noUse = judgeSession({
      record: record(),
      settings: { ...settings, bind_to_ip: true },
      defaults: { absoluteSeconds: 1, idleSeconds: 1 },
      authTime: 1000,
      now: 1100,
    });
    expect(noUse.live).toBe(true);
  });
});

describe('sameClientAddress', () => {
  test.each([
    ['192.0.2.1', '192.0.2.1', true],
    ['192.0.2.1', '192.0.2.2', false],
    ['192.0.2.1', '::ffff:192.0.2.1', true],
    ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', true],
    ['2001:db8:1:2::1', '2001:db8:1:3::1', false],
    ['192.0.2.1', '2001:db8::1', false],
    ['unknown', 'unknown', true],
    ['unknown', '192.0.2.1', false],
  ])('%s and %s: %s', (a, b, same) => {
    expect(sameClientAddress(a, b)).toBe(same);
  });
});
