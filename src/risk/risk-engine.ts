import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { FailedAttemptRepository } from '../store/repositories/failed-attempt.repository.js';
import type { RiskLoginRepository, RiskRetention } from '../store/repositories/risk-login.repository.js';
import type { TrustedDeviceRepository } from '../store/repositories/trusted-device.repository.js';
import { combine, recommend } from './combine.js';
import { deviceKeyOf } from './device-key.js';
import { loadGeoIp } from './geoip.js';
import { canonicalIp, ipSpellings, networkOf } from './ip.js';
import { SIGNALS } from './signals/index.js';
import type { Assessment, LoginFact, RiskContext, RiskFacts, RiskSettings, RiskSignal, SignalResult } from './types.js';
import { describeUserAgent } from './user-agent.js';

export interface RiskEngineDeps {
  logins: Pick<RiskLoginRepository, 'recent' | 'record' | 'sweep'>;
  failedAttempts: FailedAttemptRepository;
  trustedDevices: Pick<TrustedDeviceRepository, 'findActive'>;
  /** The effective settings of an organisation (or the global ones); only the `risk` block is read. */
  settings: { effective(organizationId?: string): Promise<{ risk: RiskSettings }> };
  clock: Clock;
  logger: Logger;
  /** The signals to run; all of them by default. */
  signals?: readonly RiskSignal[];
  /** Past this, a signal counts as failed. */
  signalBudgetMs?: number;
  retention?: RiskRetention;
}

/** A successful login's facts, to compare later logins with. */
export interface LoginToRecord {
  userId: string;
  ip: string;
  userAgent?: string;
  deviceToken?: string;
  at: number;
}

export const DEFAULT_SIGNAL_BUDGET_MS = 200;
export const DEFAULT_RETENTION: RiskRetention = { keep: 200, maxAgeMs: 180 * 86_400_000 };
// Longer than any device cookie we issue; a longer value is no token of ours.
const DEVICE_TOKEN_MAX = 128;

class SignalTimeout extends Error {
  constructor(budgetMs: number) {
    super(`no answer within ${budgetMs} ms`);
  }
}

/** A promise that settles once, whatever the caller does with it later: its rejection is never unhandled. */
function memo<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = load();
      p.catch(() => undefined);
    }
    return p;
  };
}

/**
 * The risk engine: runs every signal on an attempt, each under its own time budget, and combines
 * their scores. A signal that throws or runs out of time scores 1 (fail closed) and is logged: a
 * broken signal never makes an attempt look safer.
 */
export function createRiskEngine(deps: RiskEngineDeps) {
  const signals = deps.signals ?? SIGNALS;
  const budgetMs = deps.signalBudgetMs ?? DEFAULT_SIGNAL_BUDGET_MS;
  const retention = deps.retention ?? DEFAULT_RETENTION;

  function factsFor(context: RiskContext): RiskFacts {
    const { userId } = context;
    const token = context.deviceToken && context.deviceToken.length <= DEVICE_TOKEN_MAX ? context.deviceToken : undefined;
    return {
      history: memo(async (): Promise<readonly LoginFact[] | undefined> => (userId ? deps.logins.recent(userId, retention, context.at) : undefined)),
      trustedDevice: memo(async () => Boolean(userId && token && (await deps.trustedDevices.findActive(userId, deviceKeyOf(token))))),
      failedAttemptsForAccount: (since) => (userId ? deps.failedAttempts.forAccount(userId, since) : Promise.resolve(undefined)),
      failedAttemptsForIp: (since) => deps.failedAttempts.forIp(ipSpellings(context.ip), since),
      settings: memo(async () => (await deps.settings.effective(context.organizationId ?? undefined)).risk),
    };
  }

  async function run(signal: RiskSignal, context: RiskContext, facts: RiskFacts): Promise<SignalResult> {
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    try {
      const evaluation = Promise.resolve().then(() => signal.evaluate({ context, facts }));
      evaluation.catch(() => undefined);
      const outcome = await Promise.race([
        evaluation,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SignalTimeout(budgetMs)), budgetMs);
        }),
      ]);
      return { name: signal.name, score: outcome.score, evidence: outcome.evidence };
    } catch (err) {
      const timedOut = err instanceof SignalTimeout;
      deps.logger.warn(
        { err, signal: signal.name, ms: Math.round(performance.now() - started), userId: context.userId },
        'risk signal failed: counted as high risk',
      );
      return { name: signal.name, score: 1, evidence: { failed: timedOut ? 'timeout' : 'error' } };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async assess(context: RiskContext): Promise<Assessment> {
      // Loaded once per process; waited for here so that loading is not charged to a signal's budget.
      // A failed load is the geographic signals' own failure (they ask again, and fail closed).
      await loadGeoIp().catch((err: unknown) => deps.logger.error({ err }, 'offline GeoIP database could not be read'));
      const facts = factsFor(context);
      const results = await Promise.all(signals.map((s) => run(s, context, facts)));
      const score = combine(results.map((r, i) => ({ score: r.score, weight: signals[i]!.weight })));
      return { score, recommendation: recommend(score, await facts.settings()), signals: results };
    },

    /** Stores a successful login's facts (bounded per user and by age: older rows go in the same write). */
    async record(login: LoginToRecord): Promise<void> {
      const place = await loadGeoIp()
        .then((geo) => geo.locate(login.ip))
        .catch(() => undefined);
      const token = login.deviceToken && login.deviceToken.length <= DEVICE_TOKEN_MAX ? login.deviceToken : undefined;
      await deps.logins.record(
        {
          userId: login.userId,
          at: new Date(login.at),
          ip: canonicalIp(login.ip),
          network: networkOf(login.ip),
          country: place?.country ?? null,
          latitude: place?.latitude ?? null,
          longitude: place?.longitude ?? null,
          deviceKey: token ? deviceKeyOf(token) : null,
          uaFamily: describeUserAgent(login.userAgent).family,
        },
        retention,
        deps.clock.now(),
      );
    },

    /** Drops history past the age bound (run by the container's sweep timer). */
    sweep: () => deps.logins.sweep(retention.maxAgeMs, deps.clock.now()),
  };
}

export type RiskEngine = ReturnType<typeof createRiskEngine>;
