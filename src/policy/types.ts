/** NIST SP 800-63B assurance level; 3 = phishing-resistant multi-factor. */
export type Aal = 1 | 2 | 3;

export type FactorKind = 'password' | 'totp' | 'backup_code' | 'passkey' | 'sms_otp' | 'voice_otp' | 'email_otp' | 'security_question' | 'push';

/** Method names as the API and settings spell them. */
export const MFA_METHODS = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email', 'questions', 'prompt'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/** The method a second factor belongs to (the password is none). */
export const FACTOR_METHOD: Partial<Record<FactorKind, MfaMethod>> = {
  totp: 'totp', backup_code: 'backup_code', passkey: 'passkey', sms_otp: 'sms', voice_otp: 'voice',
  email_otp: 'email', security_question: 'questions', push: 'prompt',
};

/** What one verified factor proved, and when. AAL, amr and acr are derived from a list of these. */
export interface AuthEvent {
  factor: FactorKind;
  at: number; // epoch ms
  credentialId?: string;
  /** Counts as a second, independent factor toward AAL2. */
  secondFactor: boolean;
  phishingResistant: boolean;
}

export type DecisionReason =
  | 'policy' | 'role_required' | 'acr_requested' | 'reauth_due' | 'not_enrolled' | 'grace_period' | 'trusted_device'
  | 'mfa_disabled' | 'no_factor_enrolled' | 'unsatisfiable';

export type AuthnDecision =
  | { outcome: 'satisfied'; aal: Aal; reasons: DecisionReason[] }
  | { outcome: 'challenge'; requiredAal: Aal; methods: MfaMethod[]; reasons: DecisionReason[] }
  | { outcome: 'enroll'; requiredAal: Aal; methods: MfaMethod[]; reasons: DecisionReason[] }
  | { outcome: 'deny'; reasons: DecisionReason[]; description: string };
