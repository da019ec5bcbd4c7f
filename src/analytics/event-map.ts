/**
 * Which audit events each MFA analytics series counts. The names are those the services record
 * (`authn/`, `admin/`); a series with no event behind it is not offered rather than guessed.
 */
export const EVENTS = {
  /** A factor set up (in a login or through self-service), keyed by `data.method`. */
  enrolled: 'authn.factor.enrolled',
  /** A factor removed through self-service, keyed by `data.method`. */
  removed: 'authn.factor.removed',
  /** An administrator's reset: each method of `data.removed` counts as one removal. */
  reset: 'admin.user.factors_reset',
  /** A second factor's check, right (`verified`) or wrong (`failed`), keyed by `data.method`. */
  verified: 'authn.mfa.verified',
  failed: 'authn.mfa.failed',
  /** A login that raised an existing session's assurance, or a step-up for factor management. */
  stepUp: 'authn.step_up.completed',
  /** The password lockout, and the second-factor lockout. */
  passwordLocked: 'authn.account.locked',
  mfaLocked: 'authn.mfa.locked',
  /** A Sentinel API assessment, keyed by `data.recommendation` (allow, challenge, deny). */
  sentinel: 'risk.sentinel.assessed',
} as const;

/** Every type the event aggregate reads. */
export const ANALYTICS_EVENT_TYPES: readonly string[] = Object.values(EVENTS);
