/**
 * Each risk signal on known facts: a fixed clock, login histories written out, and addresses whose
 * place the offline GeoIP database knows (Berlin, Darmstadt, Sydney). No database: the signals are
 * given their facts; the engine's failure handling runs with signals of the test's own.
 */
import { PassThrough } from 'node:stream';
import { combine, recommend } from '../../src/risk/combine.js';
import { deviceKeyOf } from '../../src/risk/device-key.js';
import { distanceKm, loadGeoIp } from '../../src/risk/geoip.js';
import { networkOf } from '../../src/risk/ip.js';
import { createRiskEngine } from '../../src/risk/risk-engine.js';
import { denyList } from '../../src/risk/signals/deny-list.js';
import { failedAttemptsForAccount, failedAttemptsForIp } from '../../src/risk/signals/failed-attempts.js';
import { impossibleTravel } from '../../src/risk/signals/impossible-travel.js';
import { newCountry } from '../../src/risk/signals/new-country.js';
import { newDevice } from '../../src/risk/signals/new-device.js';
import { newNetwork } from '../../src/risk/signals/new-network.js';
import { unusualHour } from '../../src/risk/signals/unusual-hour.js';
import { userAgentAnomaly } from '../../src/risk/signals/user-agent-anomaly.js';
import type { LoginFact, RiskContext, RiskFacts, RiskSettings, RiskSignal } from '../../src/risk/types.js';
import { createLogger } from '../../src/lib/logger.js';

const T = Date.UTC(2030, 0, 15, 9, 0, 0);
const MIN = 60_000;
const BERLIN = '81.169.145.1';
const DARMSTADT = '194.25.0.1';
const SYDNEY = '1.1.1.1';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SETTINGS: RiskSettings = { challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [] };

beforeAll(async () => {
  await loadGeoIp();
});

/** A recorded login, placed by the same database the signals read. */
async function login(ip: string, agoMs: number, extra: Partial<LoginFact> = {}): Promise<LoginFact> {
  const place = (await loadGeoIp()).locate(ip);
  return {
    at: new Date(T - agoMs),
    ip,
    network: networkOf(ip),
    country: place?.country ?? null,
    latitude: place?.latitude ?? null,
    longitude: place?.longitude ?? null,
    deviceKey: null,
    uaFamily: 'Chrome/macOS',
    ...extra,
  };
}

function facts(history: LoginFact[] | undefined, over: Partial<RiskFacts> = {}): RiskFacts {
  return {
    history: async () => history,
    trustedDevice: async () => false,
    failedAttemptsForAccount: async () => (history ? 0 : undefined),
    failedAttemptsForIp: async () => 0,
    settings: async () => SETTINGS,
    ...over,
  };
}

const ctx = (over: Partial<RiskContext> = {}): RiskContext => ({ ip: BERLIN, userAgent: CHROME_MAC, userId: 'u1', at: T, ...over });
const run = (signal: RiskSignal, context: RiskContext, f: RiskFacts) => Promise.resolve(signal.evaluate({ context, facts: f }));

describe('offline GeoIP', () => {
  it('places the known addresses without a network call, and leaves private ones unplaced', async () => {
    const geo = await loadGeoIp();
    expect(geo.locate(BERLIN)).toMatchObject({ country: 'DE' });
    expect(geo.locate(DARMSTADT)).toMatchObject({ country: 'DE' });
    expect(geo.locate(SYDNEY)).toMatchObject({ country: 'AU' });
    expect(geo.locate('2a01:4f8::1')).toMatchObject({ country: 'DE' });
    expect(geo.locate('::ffff:1.1.1.1')).toMatchObject({ country: 'AU' });
    expect(geo.locate('10.1.2.3')).toBeUndefined();
    expect(geo.locate('127.0.0.1')).toBeUndefined();
    const km = distanceKm(geo.locate(BERLIN)!, geo.locate(SYDNEY)!);
    expect(km).toBeGreaterThan(15_000);
    expect(km).toBeLessThan(17_000);
  });
});

describe('impossible travel', () => {
  it('Germany then Australia ten minutes later is impossible', async () => {
    const r = await run(impossibleTravel, ctx({ ip: SYDNEY }), facts([await login(BERLIN, 10 * MIN)]));
    expect(r.score).toBe(1);
    expect(r.evidence).toMatchObject({ from: 'DE', to: 'AU', minutes: 10 });
    expect(r.evidence.km_per_hour as number).toBeGreaterThan(50_000);
  });

  it('the same trip over a day and a half is a flight, not a sign', async () => {
    const r = await run(impossibleTravel, ctx({ ip: SYDNEY }), facts([await login(BERLIN, 36 * 60 * MIN)]));
    expect(r.score).toBe(0);
  });

  it('Berlin to Darmstadt: impossible in ten minutes, plausible in two hours; compared with the newest located login', async () => {
    expect((await run(impossibleTravel, ctx({ ip: DARMSTADT }), facts([await login(BERLIN, 10 * MIN)]))).score).toBe(1);
    expect((await run(impossibleTravel, ctx({ ip: DARMSTADT }), facts([await login(BERLIN, 120 * MIN)]))).score).toBe(0);
    // The newest login is unplaced (a private address); the one before it, in Sydney, counts.
    const history = [await login('10.0.0.1', 5 * MIN), await login(SYDNEY, 20 * MIN)];
    expect((await run(impossibleTravel, ctx({ ip: BERLIN }), facts(history))).evidence).toMatchObject({ from: 'AU', to: 'DE' });
  });

  it('says nothing without a previous place, an unplaced address, or a user', async () => {
    expect((await run(impossibleTravel, ctx({ ip: SYDNEY }), facts([]))).score).toBe(0);
    expect((await run(impossibleTravel, ctx({ ip: '10.9.9.9' }), facts([await login(BERLIN, MIN)]))).score).toBe(0);
    expect((await run(impossibleTravel, ctx({ ip: SYDNEY, userId: undefined }), facts(undefined))).evidence).toMatchObject({ applicable: false });
  });
});

describe('new country', () => {
  it('a country never seen scores fully, another address of a known country nothing', async () => {
    expect(await run(newCountry, ctx({ ip: SYDNEY }), facts([await login(BERLIN, 60 * MIN)]))).toEqual({ score: 1, evidence: { country: 'AU', seen: false } });
    expect((await run(newCountry, ctx({ ip: DARMSTADT }), facts([await login(BERLIN, 60 * MIN)]))).score).toBe(0);
  });

  it('no history yet is half a sign; no user is none', async () => {
    expect((await run(newCountry, ctx({ ip: SYDNEY }), facts([]))).score).toBe(0.5);
    expect((await run(newCountry, ctx({ ip: SYDNEY }), facts(undefined))).score).toBe(0);
  });
});

describe('new address or network', () => {
  it('scores a seen address 0, a new address in a seen /24 a little, a new network fully', async () => {
    const history = [await login(BERLIN, 60 * MIN)];
    expect((await run(newNetwork, ctx({ ip: BERLIN }), facts(history))).score).toBe(0);
    expect((await run(newNetwork, ctx({ ip: '::ffff:81.169.145.1' }), facts(history))).score).toBe(0);
    expect((await run(newNetwork, ctx({ ip: '81.169.145.77' }), facts(history))).score).toBe(0.3);
    expect(await run(newNetwork, ctx({ ip: '81.169.146.1' }), facts(history))).toEqual({
      score: 1,
      evidence: { ip: 'new', network: '81.169.146.0/24', network_seen: false },
    });
  });

  it('groups IPv6 addresses by /48', async () => {
    const history = [await login('2a01:4f8:1:2::1', 60 * MIN)];
    expect(networkOf('2a01:4f8:1:2::1')).toBe('2a01:4f8:1::/48');
    expect((await run(newNetwork, ctx({ ip: '2a01:4f8:1:ffff::9' }), facts(history))).score).toBe(0.3);
    expect((await run(newNetwork, ctx({ ip: '2a01:4f8:2::1' }), facts(history))).score).toBe(1);
  });

  it('refuses an address that is not one (the engine then counts the signal as failed)', async () => {
    await expect(run(newNetwork, ctx({ ip: '1.2.3' }), facts([]))).rejects.toThrow();
    await expect(run(newNetwork, ctx({ ip: 'unknown' }), facts([]))).rejects.toThrow();
  });
});

describe('new device', () => {
  const token = 'device-token-abc';
  it('a trusted device or a cookie seen before is known; another cookie is new', async () => {
    const history = [await login(BERLIN, 60 * MIN, { deviceKey: deviceKeyOf(token) })];
    expect(await run(newDevice, ctx({ deviceToken: 'other' }), facts(history, { trustedDevice: async () => true }))).toEqual({
      score: 0,
      evidence: { device: 'trusted' },
    });
    expect((await run(newDevice, ctx({ deviceToken: token }), facts(history))).evidence).toMatchObject({ device: 'seen', recognised_by: 'cookie' });
    expect(await run(newDevice, ctx({ deviceToken: 'other' }), facts(history))).toEqual({ score: 1, evidence: { device: 'new', recognised_by: 'cookie' } });
  });

  it('without a cookie, the browser family is the device', async () => {
    const history = [await login(BERLIN, 60 * MIN, { uaFamily: 'Chrome/macOS' })];
    expect((await run(newDevice, ctx({ userAgent: CHROME_MAC }), facts(history))).score).toBe(0);
    expect((await run(newDevice, ctx({ userAgent: FIREFOX_WIN }), facts(history))).score).toBe(1);
    expect((await run(newDevice, ctx({ userAgent: FIREFOX_WIN }), facts([]))).score).toBe(0.5);
    expect((await run(newDevice, ctx({ userAgent: FIREFOX_WIN, userId: undefined }), facts(undefined))).score).toBe(0);
  });
});

describe('failed-attempt velocity', () => {
  it('per account: five failures in the window is the full score', async () => {
    expect((await run(failedAttemptsForAccount, ctx(), facts([], { failedAttemptsForAccount: async () => 2 }))).score).toBe(0.4);
    expect((await run(failedAttemptsForAccount, ctx(), facts([], { failedAttemptsForAccount: async () => 9 }))).score).toBe(1);
    expect((await run(failedAttemptsForAccount, ctx({ userId: undefined }), facts(undefined))).score).toBe(0);
  });

  it('per address: twenty failures is the full score, and the window is the last fifteen minutes', async () => {
    let since: Date | undefined;
    const r = await run(
      failedAttemptsForIp,
      ctx(),
      facts([], {
        failedAttemptsForIp: async (s) => {
          since = s;
          return 10;
        },
      }),
    );
    expect(r).toEqual({ score: 0.5, evidence: { failures: 10, window_minutes: 15 } });
    expect(since!.getTime()).toBe(T - 15 * MIN);
  });
});

describe('unusual hour', () => {
  const at = (hour: number) => Date.UTC(2030, 0, 15, hour, 0, 0);
  const usual = async () => Promise.all([1, 2, 3, 4, 5].map((d) => login(BERLIN, d * 24 * 60 * MIN)));
  it('within an hour of usual scores nothing; four hours away scores fully; midnight wraps', async () => {
    const history = await usual(); // every day at 09:00 UTC
    expect((await run(unusualHour, ctx({ at: at(10) }), facts(history))).score).toBe(0);
    expect((await run(unusualHour, ctx({ at: at(11) }), facts(history))).score).toBeCloseTo(1 / 3);
    expect(await run(unusualHour, ctx({ at: at(3) }), facts(history))).toEqual({ score: 1, evidence: { hour: 3, hours_from_usual: 6, logins: 5 } });
    const nightly = await Promise.all([1, 2, 3, 4, 5].map((d) => login(BERLIN, d * 24 * 60 * MIN + 10 * 60 * MIN))); // 23:00 UTC
    expect((await run(unusualHour, ctx({ at: at(0) }), facts(nightly))).score).toBe(0);
  });

  it('needs five logins before any hour is unusual', async () => {
    expect((await run(unusualHour, ctx({ at: at(3) }), facts((await usual()).slice(0, 4)))).score).toBe(0);
  });
});

describe('user agent', () => {
  it.each([
    ['missing', undefined],
    ['missing', ''],
    ['automation', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36'],
    ['automation', 'curl/8.5.0'],
    ['automation', 'python-requests/2.31.0'],
    ['automation', 'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120 Safari/537.36 Playwright/1.40'],
    ['garbled', '%%%%////....'],
    ['garbled', 'x'.repeat(2000)],
  ])('%s (case %#): full score', async (anomaly, ua) => {
    const r = await run(userAgentAnomaly, ctx({ userAgent: ua }), facts([]));
    expect(r.score).toBe(1);
    expect(r.evidence.anomaly).toBe(anomaly);
  });

  it('an ordinary browser scores nothing; an agent no parser knows, half', async () => {
    expect(await run(userAgentAnomaly, ctx({ userAgent: CHROME_MAC }), facts([]))).toEqual({ score: 0, evidence: { family: 'Chrome/macOS' } });
    expect((await run(userAgentAnomaly, ctx({ userAgent: 'EnterpriseAgent/1.0' }), facts([]))).evidence).toMatchObject({ anomaly: 'unrecognised' });
  });

  it('the same device cookie from another browser family is a copied cookie', async () => {
    const token = 'copied';
    const history = [await login(BERLIN, 60 * MIN, { deviceKey: deviceKeyOf(token), uaFamily: 'Firefox/Windows' })];
    expect(await run(userAgentAnomaly, ctx({ deviceToken: token, userAgent: CHROME_MAC }), facts(history))).toEqual({
      score: 0.8,
      evidence: { anomaly: 'family_changed', family: 'Chrome/macOS', previous_family: 'Firefox/Windows' },
    });
    expect((await run(userAgentAnomaly, ctx({ deviceToken: token, userAgent: FIREFOX_WIN }), facts(history))).score).toBe(0);
  });
});

describe('deny list', () => {
  const listed = facts([], { settings: async () => ({ ...SETTINGS, deny_list: ['203.0.113.0/24', '2001:db8::/32'] }) });
  it('an address in a listed CIDR scores 1, with the CIDR as evidence', async () => {
    expect(await run(denyList, ctx({ ip: '203.0.113.7' }), listed)).toEqual({ score: 1, evidence: { listed: true, cidr: '203.0.113.0/24' } });
    expect((await run(denyList, ctx({ ip: '::ffff:203.0.113.7' }), listed)).score).toBe(1);
    expect((await run(denyList, ctx({ ip: '2001:db8:5::1' }), listed)).score).toBe(1);
    expect((await run(denyList, ctx({ ip: '203.0.114.7' }), listed)).score).toBe(0);
  });
});

describe('combining', () => {
  it('1 − Π(1 − s·w): one strong signal suffices, weak ones add up, a full-weight signal makes 1', () => {
    expect(combine([])).toBe(0);
    expect(combine([{ score: 1, weight: 0.5 }])).toBe(0.5);
    expect(
      combine([
        { score: 1, weight: 0.5 },
        { score: 1, weight: 0.5 },
      ]),
    ).toBe(0.75);
    expect(
      combine([
        { score: 0.5, weight: 0.4 },
        { score: 0, weight: 1 },
      ]),
    ).toBe(0.2);
    expect(
      combine([
        { score: 1, weight: 1 },
        { score: 0, weight: 0.3 },
      ]),
    ).toBe(1);
  });

  it('the thresholds turn the score into a recommendation (each threshold inclusive)', () => {
    expect(recommend(0.49, SETTINGS)).toBe('allow');
    expect(recommend(0.5, SETTINGS)).toBe('challenge');
    expect(recommend(0.9, SETTINGS)).toBe('deny');
  });
});

describe('the engine', () => {
  const never = () => {
    throw new Error('not used by these signals');
  };
  const engineWith = (signals: RiskSignal[], log: PassThrough) =>
    createRiskEngine({
      logins: { recent: never, record: never, sweep: never },
      failedAttempts: { forAccount: never, forIp: never },
      trustedDevices: { findActive: never },
      settings: { effective: async () => ({ risk: SETTINGS }) },
      clock: { now: () => T },
      logger: createLogger('warn', log),
      signals,
      signalBudgetMs: 20,
    });
  const calm: RiskSignal = { name: 'calm', weight: 0.5, evaluate: () => ({ score: 0, evidence: {} }) };

  it('a signal that throws counts as high risk for that signal, and is logged', async () => {
    const log = new PassThrough();
    const lines: string[] = [];
    log.on('data', (b: Buffer) => lines.push(b.toString()));
    const broken: RiskSignal = {
      name: 'broken',
      weight: 0.95,
      evaluate: () => {
        throw new Error('boom');
      },
    };
    const r = await engineWith([calm, broken], log).assess(ctx());
    expect(r.signals).toEqual([
      { name: 'calm', score: 0, evidence: {} },
      { name: 'broken', score: 1, evidence: { failed: 'error' } },
    ]);
    expect(r.score).toBe(0.95);
    expect(r.recommendation).toBe('deny');
    expect(lines.join('')).toMatch(/"signal":"broken".*risk signal failed/);
  });

  it('a signal past its time budget counts as high risk too', async () => {
    const slow: RiskSignal = {
      name: 'slow',
      weight: 0.6,
      evaluate: () => new Promise((resolve) => setTimeout(() => resolve({ score: 0, evidence: {} }), 200)),
    };
    const started = Date.now();
    const r = await engineWith([calm, slow], new PassThrough()).assess(ctx());
    expect(Date.now() - started).toBeLessThan(150);
    expect(r.signals[1]).toEqual({ name: 'slow', score: 1, evidence: { failed: 'timeout' } });
    expect(r.recommendation).toBe('challenge');
  });
});
