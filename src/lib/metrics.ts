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
    sessionEnds: new Counter({
      name: 'idp_session_ends_total',
      help: 'SSO sessions ended, by reason (session_timeout, idle_timeout, max_concurrent_sessions, logout, ...)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sessionBindingRefusals: new Counter({
      name: 'idp_session_binding_refusals_total',
      help: 'Uses of a session refused because it came from another address or device, by kind (ip, device)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sessionRevocations: new Counter({
      name: 'idp_session_revocations_total',
      help: 'SSO sessions ended on request, by who asked (the user, an administrator) and whether one session or all of a user were asked for',
      labelNames: ['by', 'scope'],
      registers: [registry],
    }),
    userAdmin: new Counter({
      name: 'idp_user_admin_actions_total',
      help: 'Administrative actions on users: updates, disable and enable, deletion, factor resets, temporary passwords',
      labelNames: ['action'],
      registers: [registry],
    }),
    passwordChanges: new Counter({
      name: 'idp_password_changes_total',
      help: 'Passwords changed by their users, by why the change was made (a temporary password replaced)',
      labelNames: ['reason'],
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
    deliveries: new Counter({
      name: 'idp_deliveries_total',
      help: 'Code and e-mail delivery attempts by channel (sms, voice, email), provider (its name, smtp, outbox) and outcome (accepted, refused, uncertain)',
      labelNames: ['channel', 'provider', 'outcome'],
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
