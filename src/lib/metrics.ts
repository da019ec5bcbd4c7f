import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per running IdP (tests run several in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    logins: new Counter({
      name: 'idp_logins_total',
      help: 'Logins by outcome: failed passwords, and logins finished through every step they needed',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    mfaChallenges: new Counter({
      name: 'idp_mfa_challenges_total',
      help: 'MFA challenges by method and outcome',
      labelNames: ['method', 'outcome'],
      registers: [registry],
    }),
    breakGlass: new Counter({
      name: 'idp_break_glass_total',
      help: 'Break-glass grants by event: requested, approved, self_approved, denied, used (token requests carrying one), revoked, expired (counted at review), reviewed',
      labelNames: ['event'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'idp_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
