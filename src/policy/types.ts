/** NIST SP 800-63B assurance level; 3 = phishing-resistant multi-factor. */
export type Aal = 1 | 2 | 3;

/**
 * Method names as the API, the settings, the credentials table and the auth events spell them.
 * A name is only a word here: a method exists when a factor plug-in for it is registered.
 */
export const MFA_METHODS = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email', 'questions', 'prompt'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/** A method's properties that policy decisions need; each factor plug-in declares its own. */
export interface FactorDescriptor {
  readonly method: MfaMethod;
  /** RFC 8176 amr values the method earns. */
  readonly amr: readonly string[];
  /** Counts as a second, independent factor. */
  readonly secondFactor: boolean;
  /** Bound to the origin, so a look-alike site cannot relay it (NIST SP 800-63B §5.2.5). */
  readonly phishingResistant: boolean;
  /**
   * The highest AAL the method can help reach: 1 for methods NIST SP 800-63B rev 4 and OWASP ASVS 5
   * (6.3.6) do not accept as an AAL2 authenticator (email codes, questions), 3 for phishing-resistant ones.
   */
  readonly aal: Aal;
  /** Can be set up inside a login when the policy asks for a factor the user does not have. */
  readonly enrollableInLogin: boolean;
  /** Meant for regaining access: offered beside the method a policy names, never the one factor left. */
  readonly recovery: boolean;
  /**
   * The `credentials` kind that makes the method usable, when not the method's own name: a verified
   * phone (`phone`) gives both SMS and voice codes.
   */
  readonly credentialKind?: string;
}

/** What one verified factor proved, and when. AAL, amr and acr are derived from a list of these. */
export interface AuthEvent {
  /** `password`, or the MFA method that was verified. */
  factor: 'password' | MfaMethod;
  at: number; // epoch ms
  credentialId?: string;
  /** Counts as a second, independent factor toward AAL2. */
  secondFactor: boolean;
  phishingResistant: boolean;
  /** The highest AAL the method can help reach (its descriptor's, or less for this credential); events recorded before it was kept have none. */
  aal?: Aal;
  /** RFC 8176 values this credential earned, when they depend on the credential (WebAuthn: hwk or swk, user); else the method's own. */
  amr?: string[];
  /**
   * A multi-factor authenticator on its own (NIST SP 800-63B §5.1.8, §5.1.9: a key unlocked by a
   * PIN or biometric): it makes AAL2 without a password.
   */
  multiFactor?: boolean;
}

export type DecisionReason =
  | 'policy'
  | 'role_required'
  | 'acr_requested'
  | 'reauth_due'
  | 'not_enrolled'
  | 'grace_period'
  | 'trusted_device'
  | 'mfa_disabled'
  | 'no_factor_enrolled'
  | 'unsatisfiable'
  | 'min_acr'
  | 'rule_required'
  | 'rule_skipped'
  | 'rule_denied'
  | 'rule_failed'
  | 'trusted_network'
  | 'network_blocked'
  | 'risk_denied'
  | 'risk_challenge'
  | 'break_glass';

/** Why a decision was what it was, as the audit trail keeps it. */
export interface DecisionWhy {
  reasons: readonly string[];
  sources?: readonly DecisionSource[];
}

/** The risk engine's verdict on a new sign-in, as the decision reads it. */
export interface RiskVerdict {
  score: number;
  recommendation: 'allow' | 'challenge' | 'deny';
}

/** What one rule's verdict was; the engine asks for no more of a rule than this. */
export type RuleOutcome = 'skip_mfa' | 'require_mfa' | 'deny';

/**
 * Who decided, structured: the layer and key (`{source: 'role:admin', key: 'policy'}`), the rule
 * (`{source: 'rule:<id>', outcome: 'require_mfa'}`) or the signal (`{source: 'network:Office', outcome: 'skip_mfa'}`).
 */
export interface DecisionSource {
  source: string;
  key?: string;
  outcome?: RuleOutcome;
  /** Why a rule counted as `require_mfa` when its condition could not be evaluated. */
  error?: string;
}

interface Explained {
  reasons: DecisionReason[];
  /** Structured counterpart of `reasons`; absent on decisions made outside the engine. */
  sources?: DecisionSource[];
}

export type AuthnDecision =
  | ({ outcome: 'satisfied'; aal: Aal } & Explained)
  | ({ outcome: 'challenge'; requiredAal: Aal; methods: MfaMethod[] } & Explained)
  | ({ outcome: 'enroll'; requiredAal: Aal; methods: MfaMethod[] } & Explained)
  | ({ outcome: 'deny'; description: string } & Explained);
