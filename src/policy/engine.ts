import { aalOf } from './assurance.js';
import { POLICY_METHOD, type MfaSettings } from './settings.js';
import type { Aal, AuthEvent, AuthnDecision, DecisionReason, FactorDescriptor, MfaMethod } from './types.js';

export interface DecisionInput {
  /** The registered methods: what each one is worth comes from its own descriptor. */
  methods: readonly FactorDescriptor[];
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

/** The lists the decision needs, read from the descriptors; a method with none is never usable. */
function catalogue(descriptors: readonly FactorDescriptor[]) {
  const pick = (p: (d: FactorDescriptor) => boolean) => new Set(descriptors.filter(p).map((d) => d.method));
  return {
    known: pick(() => true),
    enrollable: pick((d) => d.enrollableInLogin),
    phishingResistant: pick((d) => d.phishingResistant),
    // Weak methods are never enough for a step-up (NIST SP 800-63B rev 4, ASVS 5 6.3.6 / 6.4.2).
    strong: pick((d) => d.aal >= 2),
    recovery: pick((d) => d.recovery),
  };
}
type Catalogue = ReturnType<typeof catalogue>;

/** The methods the policy accepts; a policy naming one method still takes the allowed recovery methods beside it. */
export function policyMethods(mfa: MfaSettings, descriptors: readonly FactorDescriptor[]): MfaMethod[] {
  return methodsFor(mfa, catalogue(descriptors));
}

function methodsFor(mfa: MfaSettings, known: Catalogue): MfaMethod[] {
  if (mfa.policy !== 'otp' && mfa.policy !== 'passkey') return [...mfa.allowed_methods];
  return [POLICY_METHOD[mfa.policy], ...mfa.allowed_methods.filter((m) => known.recovery.has(m))];
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
  const known = catalogue(input.methods);
  const enrolled = input.enrolled.filter((m) => known.known.has(m));
  const fresh = freshSecondFactors(input);
  const stale = input.events.some((e) => e.secondFactor) && fresh.length === 0;
  const roleRequired = mfa.required_for_roles.some((r) => input.account.roles.includes(r));
  const reasons: DecisionReason[] = [];

  if (input.requestedAal && input.requestedAal >= 2) {
    reasons.push('acr_requested');
    const needsPr = input.requestedAal === 3;
    // Weak second factors (email codes, questions) never count toward a requested level.
    // AAL3 needs a phishing-resistant credential that can reach it (a synced passkey cannot, by default).
    const ok = fresh.some((e) => (needsPr ? e.phishingResistant && (e.aal ?? 3) >= 3 : e.factor !== 'password' && known.strong.has(e.factor)));
    if (ok) return { outcome: 'satisfied', aal: aalOf(input.events), reasons };
    const usable = enrolled.filter((m) => (needsPr ? known.phishingResistant : known.strong).has(m));
    if (usable.length) return { outcome: 'challenge', requiredAal: input.requestedAal, methods: usable, reasons: stale ? [...reasons, 'reauth_due'] : reasons };
    if (!needsPr)
      return { outcome: 'enroll', requiredAal: 2, methods: [...known.enrollable].filter((m) => known.strong.has(m)), reasons: [...reasons, 'not_enrolled'] };
    return { outcome: 'deny', reasons: [...reasons, 'unsatisfiable'], description: 'aal3 requires a passkey or security key, and none is registered' };
  }

  if (mfa.policy === 'disabled' && !roleRequired) return { outcome: 'satisfied', aal: aalOf(input.events), reasons: ['mfa_disabled'] };
  reasons.push(roleRequired ? 'role_required' : 'policy');

  const methods = methodsFor(mfa, known);
  const usable = enrolled.filter((m) => methods.includes(m));
  if (fresh.some((e) => e.factor !== 'password' && methods.includes(e.factor))) {
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
  const enrollable = [...known.enrollable].filter((m) => methods.includes(m));
  if (enrollable.length) return { outcome: 'enroll', requiredAal: 2, methods: enrollable, reasons: [...reasons, 'not_enrolled'] };
  return {
    outcome: 'deny',
    reasons: [...reasons, 'unsatisfiable'],
    description: 'the sign-in policy requires a factor that cannot be enrolled here; contact your administrator',
  };
}
