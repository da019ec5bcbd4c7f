import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Values read from the store when scraped, rather than counted by the process. */
export interface MetricSources {
  /** Break-glass grants per state now. */
  breakGlassStates?: () => Promise<Record<string, number>>;
}

/** One registry per running IdP (tests run several in one process). */
export function createMetrics(sources: MetricSources = {}) {
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
      help: 'Break-glass grants by event: requested, approved, self_approved, denied, used (token requests carrying one), revoked, reviewed',
      labelNames: ['event'],
      registers: [registry],
    }),
    // No job watches grants end: their states are counted in the database at each scrape, the same on every node.
    breakGlassGrants: new Gauge({
      name: 'idp_break_glass_grants',
      help: 'Break-glass grants by state now: pending_approval, active, expired (every grant that ran to its end: the expiries so far), pending_review',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        // A store outage must not take every other metric down with it: the last values stay.
        const counts = await sources.breakGlassStates?.().catch(() => undefined);
        for (const [state, n] of Object.entries(counts ?? {})) this.set({ state }, n);
      },
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
