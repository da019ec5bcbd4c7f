import { aalFromAcr, aalOf } from './assurance.js';
import { POLICY_METHOD, type MfaProvenance, type MfaSettings } from './settings.js';
import type { Aal, AuthEvent, AuthnDecision, DecisionReason, DecisionSource, FactorDescriptor, MfaMethod, RiskVerdict, RuleOutcome } from './types.js';

/** The rule that did not abstain for this login, as the rules module found it. */
export interface RuleVerdict {
  id: string;
  outcome: RuleOutcome;
  /** With `require_mfa`: only these methods (within the policy's) are offered. */
  methods?: readonly MfaMethod[];
  /** With `require_mfa`: the least AAL the login must end with. */
  minAal?: Aal;
  /** Set when the condition could not be evaluated: the rule then counts as `require_mfa`. */
  error?: string;
}

export interface DecisionInput {
  /** The registered methods: what each one is worth comes from its own descriptor. */
  methods: readonly FactorDescriptor[];
  mfa: MfaSettings;
  /** Which settings layer set what; names the layers in `sources`. */
  provenance?: MfaProvenance;
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
  /** The first rule that did not abstain, if any. */
  rule?: RuleVerdict;
  /**
   * The trusted network the client address is in (null: in none, or the address is unknown);
   * undefined when no network facts are given (sensitive actions), which blocks nothing.
   */
  network?: { name: string; skip_mfa: boolean } | null;
  /** Logins from outside every trusted network are refused. */
  blockUnknown?: boolean;
  /**
   * The risk engine's verdict on this sign-in (adaptive MFA on): `deny` refuses it; `challenge` asks
   * for a second factor that no network, rule, trusted device or disabled policy waives. It never
   * forces an enrolment: whoever holds only the password must not be the one to add a factor.
   */
  risk?: RiskVerdict;
  /** An emergency access grant active for the user: every login and session must reach its organisation's `break_glass.min_acr`. */
  breakGlass?: { grantId: string; minAal: Aal };
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

/** Keeps the structured sources beside the string reasons of whatever the steps below answer. */
function explained(decision: AuthnDecision, sources: DecisionSource[]): AuthnDecision {
  return sources.length ? { ...decision, sources: [...(decision.sources ?? []), ...sources] } : decision;
}

/**
 * The one answer to "what must this user prove now". Pure: every input is in `input`, so the
 * login, the session Check, sensitive actions and the policy simulator all get the same verdict
 * for the same facts.
 *
 * Order: a network block, then a `deny` rule; then the strictest assurance asked (the relying
 * party's acr_values, the policy's `min_acr`, a rule's `min_acr`), which no network, rule or
 * trusted device lowers; then MFA itself, which a `skip_mfa` rule or network skips unless a role
 * or a `require_mfa` rule requires it.
 */
export function decide(input: DecisionInput): AuthnDecision {
  const { rule } = input;
  const ruleSource: DecisionSource[] = rule ? [{ source: `rule:${rule.id}`, outcome: rule.outcome, ...(rule.error ? { error: rule.error } : {}) }] : [];
  if (input.blockUnknown && input.network === null) {
    const description = 'sign-in is not allowed from this network';
    return { outcome: 'deny', reasons: ['network_blocked'], sources: [{ source: 'network:unknown', outcome: 'deny' }], description };
  }
  if (rule?.outcome === 'deny')
    return { outcome: 'deny', reasons: ['rule_denied'], sources: ruleSource, description: 'sign-in is not allowed by the sign-in rules' };
  if (input.risk?.recommendation === 'deny') {
    const sources = [{ source: 'risk', outcome: 'deny' as const }];
    return { outcome: 'deny', reasons: ['risk_denied'], sources, description: 'this sign-in looks too risky; contact your administrator' };
  }
  const verdict = decideMfa(input);
  const network =
    input.network && verdict.reasons.includes('trusted_network') ? [{ source: `network:${input.network.name}`, outcome: 'skip_mfa' as const }] : [];
  // A failed rule is always named, even where a step-up decided anyway: it needs fixing.
  const ruleDecided = verdict.reasons.some((r) => r.startsWith('rule_')) || rule?.error !== undefined;
  return explained(verdict, [...(ruleDecided ? ruleSource : []), ...network]);
}

function decideMfa(input: DecisionInput): AuthnDecision {
  const { mfa, rule } = input;
  const known = catalogue(input.methods);
  const enrolled = input.enrolled.filter((m) => known.known.has(m));
  const fresh = freshSecondFactors(input);
  const stale = input.events.some((e) => e.secondFactor) && fresh.length === 0;
  const requiringRoles = mfa.required_for_roles.filter((r) => input.account.roles.includes(r));
  const roleRequired = requiringRoles.length > 0;
  const ruleRequires: RuleOutcome | undefined = rule?.outcome === 'require_mfa' ? rule.outcome : undefined;
  const policyFloor = aalFromAcr(mfa.min_acr) ?? 1;
  const ruleFloor = (ruleRequires && rule?.minAal) || 1;
  const breakGlassFloor = input.breakGlass?.minAal ?? 1;
  const floor = Math.max(input.requestedAal ?? 1, policyFloor, ruleFloor, breakGlassFloor) as Aal;
  const reasons: DecisionReason[] = [];
  const sources: DecisionSource[] = [];
  if (input.requestedAal && input.requestedAal >= 2) {
    reasons.push('acr_requested');
    sources.push({ source: 'request', key: 'acr_values' });
  }
  if (input.breakGlass && breakGlassFloor >= 2) {
    reasons.push('break_glass');
    sources.push({ source: `break_glass:${input.breakGlass.grantId}`, key: 'min_acr' });
  }
  // The policy's or a rule's floor is named whenever it asks more than the relying party, beside a grant's.
  const ownFloor = Math.max(policyFloor, ruleFloor);
  if (ownFloor >= 2 && ownFloor > (input.requestedAal ?? 1)) {
    reasons.push(ruleFloor === ownFloor ? 'rule_required' : 'min_acr');
    if (ruleFloor !== ownFloor) sources.push({ source: input.provenance?.min_acr ?? 'policy', key: 'min_acr' });
  }

  if (floor >= 2) return explained(assuranceStep(input, floor, reasons, known, enrolled, fresh, stale), sources);

  const allowedEnrolled = enrolled.filter((m) => methodsFor(mfa, known).includes(m));
  const riskRequires = input.risk?.recommendation === 'challenge' && allowedEnrolled.length > 0;
  if (input.risk?.recommendation === 'challenge') reasons.push('risk_challenge');
  if (riskRequires) sources.push({ source: 'risk', outcome: 'require_mfa' });

  if (mfa.policy === 'disabled' && !roleRequired && !ruleRequires && !riskRequires)
    return {
      outcome: 'satisfied',
      aal: aalOf(input.events),
      reasons: ['mfa_disabled'],
      sources: [{ source: input.provenance?.policy ?? 'policy', key: 'policy' }],
    };
  if (roleRequired) {
    reasons.push('role_required');
    sources.push(...requiringRoles.map((r) => ({ source: input.provenance?.required_for_roles[r] ?? 'policy', key: `required_for_roles:${r}` })));
  } else if (ruleRequires) {
    reasons.push('rule_required');
    if (rule?.error) reasons.push('rule_failed');
  } else if (!riskRequires) {
    reasons.push('policy');
    sources.push({ source: input.provenance?.policy ?? 'policy', key: 'policy' });
    // A network or rule skips what the policy asks, never what a role, a rule or an assurance level asks.
    if (rule?.outcome === 'skip_mfa') return { outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'rule_skipped'], sources };
    if (input.network?.skip_mfa) return { outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'trusted_network'], sources };
  }

  const methods = methodsFor(mfa, known).filter((m) => !ruleRequires || !rule?.methods || rule.methods.includes(m));
  const usable = enrolled.filter((m) => methods.includes(m));
  const answer = (d: AuthnDecision) => explained(d, sources);
  if (fresh.some((e) => e.factor !== 'password' && methods.includes(e.factor))) {
    return answer({ outcome: 'satisfied', aal: aalOf(input.events), reasons });
  }
  if (input.trustedDevice && usable.length && !riskRequires)
    return answer({ outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'trusted_device'] });
  if (usable.length) return answer({ outcome: 'challenge', requiredAal: 2, methods: usable, reasons: stale ? [...reasons, 'reauth_due'] : reasons });

  // Nothing usable is enrolled. `any` asks MFA only of those who have a factor, unless enrolment is enforced.
  const mustEnrol = mfa.enforce_enrollment || roleRequired || ruleRequires !== undefined || mfa.policy !== 'any';
  if (!mustEnrol) return answer({ outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'no_factor_enrolled'] });
  if (input.now < input.account.createdAt.getTime() + mfa.grace_period_seconds * 1000) {
    return answer({ outcome: 'satisfied', aal: aalOf(input.events), reasons: [...reasons, 'grace_period'] });
  }
  const enrollable = [...known.enrollable].filter((m) => methods.includes(m));
  if (enrollable.length) return answer({ outcome: 'enroll', requiredAal: 2, methods: enrollable, reasons: [...reasons, 'not_enrolled'] });
  return answer({
    outcome: 'deny',
    reasons: [...reasons, 'unsatisfiable'],
    description: 'the sign-in policy requires a factor that cannot be enrolled here; contact your administrator',
  });
}

/** An assurance level is asked (by the relying party, the policy or a rule): only a fresh factor that reaches it satisfies it. */
function assuranceStep(
  input: DecisionInput,
  floor: Aal,
  reasons: DecisionReason[],
  known: Catalogue,
  enrolled: readonly MfaMethod[],
  fresh: readonly AuthEvent[],
  stale: boolean,
): AuthnDecision {
  const needsPr = floor === 3;
  // Weak second factors (email codes, questions) never count toward a requested level.
  // AAL3 needs a phishing-resistant credential that can reach it (a synced passkey cannot, by default).
  const ok = fresh.some((e) => (needsPr ? e.phishingResistant && (e.aal ?? 3) >= 3 : e.factor !== 'password' && known.strong.has(e.factor)));
  if (ok) return { outcome: 'satisfied', aal: aalOf(input.events), reasons };
  const usable = enrolled.filter((m) => (needsPr ? known.phishingResistant : known.strong).has(m));
  if (usable.length) return { outcome: 'challenge', requiredAal: floor, methods: usable, reasons: stale ? [...reasons, 'reauth_due'] : reasons };
  if (!needsPr)
    return { outcome: 'enroll', requiredAal: 2, methods: [...known.enrollable].filter((m) => known.strong.has(m)), reasons: [...reasons, 'not_enrolled'] };
  return { outcome: 'deny', reasons: [...reasons, 'unsatisfiable'], description: 'aal3 requires a passkey or security key, and none is registered' };
}
