import { aalOf } from './assurance.js';
import type { MfaSettings } from './settings.js';
import { FACTOR_METHOD, type Aal, type AuthEvent, type AuthnDecision, type DecisionReason, type MfaMethod } from './types.js';

/** Methods that can be enrolled inside a login today. */
const ENROLLABLE: readonly MfaMethod[] = ['totp'];
const PHISHING_RESISTANT: readonly MfaMethod[] = ['passkey'];
/** Never enough for a step-up (NIST SP 800-63B rev 4, ASVS 5 6.3.6 / 6.4.2). */
const WEAK: readonly MfaMethod[] = ['email', 'questions'];

export interface DecisionInput {
  mfa: MfaSettings;
  account: { roles: readonly string[]; createdAt: Date };
  /** Methods the account has usable credentials for. */
  enrolled: readonly MfaMethod[];
  /** What has been proven so far in this login or session. */
  events: readonly AuthEvent[];
  /** Lowest AAL among the relying party's acr_values (a step-up), if any. */
  requestedAal?: Aal;
  /** A valid trusted-device cookie of this account: skips the policy's MFA, never a step-up. */
  trustedDevice: boolean;
  now: number;
  /** Sensitive actions ask for a fresher second factor than the policy's reauth interval. */
  secondFactorMaxAgeMs?: number;
}

function methodsFor(mfa: MfaSettings): MfaMethod[] {
  const allowed = new Set<MfaMethod>(mfa.allowed_methods);
  const recovery: MfaMethod[] = allowed.has('backup_code') ? ['backup_code'] : [];
  if (mfa.policy === 'otp') return ['totp', ...recovery];
  if (mfa.policy === 'passkey') return ['passkey', ...recovery];
  return [...allowed];
}

/** Second-factor events still fresh enough for the reauth interval (0 = the whole session). */
function freshSecondFactors(input: DecisionInput): AuthEvent[] {
  const maxAgeMs = input.secondFactorMaxAgeMs ?? input.mfa.reauth_interval_minutes * 60_000;
  return input.events.filter((e) => e.secondFactor && (maxAgeMs === 0 || input.now - e.at < maxAgeMs));
}

/**
 * The one answer to "what must this user prove now". Pure: every input is in `input`, so the
 * login, the session Check and sensitive actions all get the same verdict for the same facts.
 */
export function decide(input: DecisionInput): AuthnDecision {
  const { mfa } = input;
  const fresh = freshSecondFactors(input);
  const stale = input.events.some((e) => e.secondFactor) && fresh.length === 0;
  const roleRequired = mfa.required_for_roles.some((r) => input.account.roles.includes(r));
  const reasons: DecisionReason[] = [];

  if (input.requestedAal && input.requestedAal >= 2) {
    reasons.push('acr_requested');
    const needsPr = input.requestedAal === 3;
    // Weak second factors (email codes, questions) never count toward a requested level.
    const ok = fresh.some((e) => (needsPr ? e.phishingResistant : !WEAK.includes(FACTOR_METHOD[e.factor]!)));
    if (ok) return { outcome: 'satisfied', aal: aalOf(input.events), reasons };
    const usable = input.enrolled.filter((m) => (needsPr ? PHISHING_RESISTANT.includes(m) : !WEAK.includes(m)));
    if (usable.length) return { outcome: 'challenge', requiredAal: input.requestedAal, methods: usable, reasons: stale ? [...reasons, 'reauth_due'] : reasons };
    if (!needsPr) return { outcome: 'enroll', requiredAal: 2, methods: [...ENROLLABLE], reasons: [...reasons, 'not_enrolled'] };
    return { outcome: 'deny', reasons: [...reasons, 'unsatisfiable'], description: 'aal3 requires a passkey or security key, and none is registered' };
  }

  if (mfa.policy === 'disabled' && !roleRequired) return { outcome: 'satisfied', aal: aalOf(input.events), reasons: ['mfa_disabled'] };
  reasons.push(roleRequired ? 'role_required' : 'policy');

  const methods = methodsFor(mfa);
  const usable = input.enrolled.filter((m) => methods.includes(m));
  if (fresh.some((e) => { const m = FACTOR_METHOD[e.factor]; return m !== undefined && methods.includes(m); })) {
    return { outcome: 'satisfied', aal: aalOf(input.events), reasons };
  }
  if (input.trustedDevice && usable.length) return { outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'trusted_device'] };
  if (usable.length) return { outcome: 'challenge', requiredAal: 2, methods: usable, reasons: stale ? [...reasons, 'reauth_due'] : reasons };

  // Nothing usable is enrolled. `any` asks MFA only of those who have a factor, unless enrolment is enforced.
  const mustEnrol = mfa.enforce_enrollment || roleRequired || mfa.policy !== 'any';
  if (!mustEnrol) return { outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'no_factor_enrolled'] };
  if (input.now < input.account.createdAt.getTime() + mfa.grace_period_seconds * 1000) {
    return { outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'grace_period'] };
  }
  const enrollable = ENROLLABLE.filter((m) => methods.includes(m));
  if (enrollable.length) return { outcome: 'enroll', requiredAal: 2, methods: enrollable, reasons: [...reasons, 'not_enrolled'] };
  return { outcome: 'deny', reasons: [...reasons, 'unsatisfiable'], description: 'the sign-in policy requires a factor that cannot be enrolled here; contact your administrator' };
}
