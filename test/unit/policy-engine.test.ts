/**
 * decide() as a table: the same facts always give the same verdict, for the login, the session
 * Check and step-up alike.
 */
import { amrOf } from '../../src/policy/assurance.js';
import { decide, type DecisionInput, type RuleVerdict } from '../../src/policy/engine.js';
import { defaultSettings, mergeMfa, roleLayers, type MfaSettings } from '../../src/policy/settings.js';
import type { AuthEvent, AuthnDecision, FactorDescriptor } from '../../src/policy/types.js';
import { backupCodeDescriptor } from '../../src/authn/factors/backup-code/backup-code.factor.js';
import { totpDescriptor } from '../../src/authn/factors/totp/totp.factor.js';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const MIN = 60_000;

/** The registered methods, and two without a plug-in yet, described as theirs will be, so that their rules are pinned down now. */
const METHODS: FactorDescriptor[] = [
  totpDescriptor,
  backupCodeDescriptor,
  { method: 'passkey', amr: ['hwk'], secondFactor: true, phishingResistant: true, aal: 3, enrollableInLogin: false, recovery: false },
  { method: 'email', amr: ['otp'], secondFactor: true, phishingResistant: false, aal: 1, enrollableInLogin: false, recovery: false },
];
const DEFAULT_MFA = defaultSettings(
  { maxFailures: 5, lockMinutes: [1], mfaMaxFailures: 10 },
  METHODS.map((m) => m.method),
  { absoluteSeconds: 43200, idleSeconds: 1800 },
).mfa;

const pwd = (agoMs = 0): AuthEvent => ({ factor: 'password', at: NOW - agoMs, secondFactor: false, phishingResistant: false });
const second = (factor: AuthEvent['factor'], agoMs = 0): AuthEvent => {
  const d = METHODS.find((m) => m.method === factor);
  return { factor, at: NOW - agoMs, secondFactor: true, phishingResistant: d?.phishingResistant ?? false, aal: d?.aal };
};

interface Row {
  name: string;
  mfa?: Partial<MfaSettings>;
  roles?: string[];
  createdAgoMs?: number;
  enrolled?: DecisionInput['enrolled'];
  events?: AuthEvent[];
  requestedAal?: DecisionInput['requestedAal'];
  trustedDevice?: boolean;
  secondFactorMaxAgeMs?: number;
  methods?: FactorDescriptor[];
  expect: Partial<AuthnDecision> & { outcome: AuthnDecision['outcome'] };
  /** Reasons that must be among the decision's. */
  reasons?: string[];
}

const rows: Row[] = [
  // policy disabled
  { name: 'disabled, no factor', mfa: { policy: 'disabled' }, expect: { outcome: 'satisfied', aal: 1 }, reasons: ['mfa_disabled'] },
  {
    name: 'disabled, TOTP enrolled: still not asked',
    mfa: { policy: 'disabled' },
    enrolled: ['totp'],
    expect: { outcome: 'satisfied', aal: 1 },
    reasons: ['mfa_disabled'],
  },
  {
    name: 'disabled beats enforce_enrollment',
    mfa: { policy: 'disabled', enforce_enrollment: true },
    expect: { outcome: 'satisfied' },
    reasons: ['mfa_disabled'],
  },

  // policy any (the default)
  { name: 'any, no factor, not enforced', expect: { outcome: 'satisfied', aal: 1 }, reasons: ['no_factor_enrolled'] },
  { name: 'any, TOTP enrolled, password only', enrolled: ['totp'], expect: { outcome: 'challenge', methods: ['totp'], requiredAal: 2 }, reasons: ['policy'] },
  { name: 'any, TOTP and backup codes', enrolled: ['totp', 'backup_code'], expect: { outcome: 'challenge', methods: ['totp', 'backup_code'] } },
  { name: 'any, TOTP just verified', enrolled: ['totp'], events: [pwd(), second('totp')], expect: { outcome: 'satisfied', aal: 2 } },
  { name: 'any, backup code just used', enrolled: ['totp'], events: [pwd(), second('backup_code')], expect: { outcome: 'satisfied', aal: 2 } },
  {
    name: 'any, backup codes not allowed: a user with only those is not challenged with them',
    mfa: { allowed_methods: ['totp'] },
    enrolled: ['backup_code'],
    expect: { outcome: 'satisfied' },
    reasons: ['no_factor_enrolled'],
  },
  {
    name: 'otp policy: TOTP and recovery codes',
    mfa: { policy: 'otp' },
    enrolled: ['totp', 'backup_code'],
    expect: { outcome: 'challenge', methods: ['totp', 'backup_code'] },
  },
  { name: 'otp policy, nothing enrolled → enrol TOTP', mfa: { policy: 'otp' }, expect: { outcome: 'enroll', methods: ['totp'] }, reasons: ['not_enrolled'] },
  {
    name: 'passkey policy, only TOTP → cannot be enrolled here: deny',
    mfa: { policy: 'passkey' },
    enrolled: ['totp'],
    expect: { outcome: 'deny' },
    reasons: ['unsatisfiable'],
  },

  // only registered methods count
  {
    name: 'an enrolled method with no plug-in is never offered',
    mfa: { policy: 'passkey' },
    methods: [totpDescriptor, backupCodeDescriptor],
    enrolled: ['passkey', 'backup_code'],
    expect: { outcome: 'challenge', methods: ['backup_code'] },
  },
  {
    name: 'enrolment offers only what the registry can enrol in a login',
    mfa: { enforce_enrollment: true },
    methods: [backupCodeDescriptor],
    expect: { outcome: 'deny' },
    reasons: ['unsatisfiable'],
  },

  // enforcement and grace
  {
    name: 'enforce, no factor → enrol',
    mfa: { enforce_enrollment: true },
    expect: { outcome: 'enroll', methods: ['totp'], requiredAal: 2 },
    reasons: ['not_enrolled'],
  },
  {
    name: 'enforce, grace 1 h, created 10 min ago → through',
    mfa: { enforce_enrollment: true, grace_period_seconds: 3600 },
    createdAgoMs: 10 * MIN,
    expect: { outcome: 'satisfied', aal: 1 },
    reasons: ['grace_period'],
  },
  {
    name: 'enforce, grace 1 h, created 61 min ago → enrol',
    mfa: { enforce_enrollment: true, grace_period_seconds: 3600 },
    createdAgoMs: 61 * MIN,
    expect: { outcome: 'enroll' },
  },
  {
    name: 'enforce, grace does not skip a challenge for the enrolled',
    mfa: { enforce_enrollment: true, grace_period_seconds: 3600 },
    createdAgoMs: MIN,
    enrolled: ['totp'],
    expect: { outcome: 'challenge', methods: ['totp'] },
  },

  // roles
  {
    name: 'role required, no factor → enrol',
    mfa: { required_for_roles: ['admin'] },
    roles: ['admin'],
    expect: { outcome: 'enroll' },
    reasons: ['role_required'],
  },
  {
    name: 'role required, other role, no factor → through',
    mfa: { required_for_roles: ['admin'] },
    roles: ['staff'],
    expect: { outcome: 'satisfied' },
    reasons: ['no_factor_enrolled'],
  },
  {
    name: 'role required even when the policy is disabled',
    mfa: { policy: 'disabled', required_for_roles: ['admin'] },
    roles: ['admin', 'staff'],
    enrolled: ['totp'],
    expect: { outcome: 'challenge', methods: ['totp'] },
    reasons: ['role_required'],
  },
  {
    name: 'disabled, role not held → not asked',
    mfa: { policy: 'disabled', required_for_roles: ['admin'] },
    roles: ['staff'],
    enrolled: ['totp'],
    expect: { outcome: 'satisfied' },
    reasons: ['mfa_disabled'],
  },

  // trusted device
  {
    name: 'trusted device skips the challenge (the login stays aal1)',
    enrolled: ['totp'],
    trustedDevice: true,
    expect: { outcome: 'satisfied', aal: 1 },
    reasons: ['trusted_device'],
  },
  { name: 'trusted device never enrols anybody', mfa: { enforce_enrollment: true }, trustedDevice: true, expect: { outcome: 'enroll' } },
  {
    name: 'trusted device does not satisfy aal2',
    enrolled: ['totp'],
    trustedDevice: true,
    requestedAal: 2,
    expect: { outcome: 'challenge', methods: ['totp'], requiredAal: 2 },
    reasons: ['acr_requested'],
  },

  // requested acr
  { name: 'aal2 requested, TOTP fresh', enrolled: ['totp'], events: [pwd(), second('totp', MIN)], requestedAal: 2, expect: { outcome: 'satisfied', aal: 2 } },
  {
    name: 'aal2 requested with policy disabled → challenge',
    mfa: { policy: 'disabled' },
    enrolled: ['totp'],
    requestedAal: 2,
    expect: { outcome: 'challenge', methods: ['totp'] },
  },
  { name: 'aal2 requested, no factor → enrol', requestedAal: 2, expect: { outcome: 'enroll', methods: ['totp'] }, reasons: ['acr_requested', 'not_enrolled'] },
  {
    name: 'aal2 requested, only weak methods (email) → enrol, never the weak one',
    mfa: { allowed_methods: ['totp', 'email'] },
    enrolled: ['email'],
    requestedAal: 2,
    expect: { outcome: 'enroll', methods: ['totp'] },
  },
  {
    name: 'aal2 requested, an email code just used: weak, so challenged with a strong method',
    mfa: { allowed_methods: ['totp', 'email'] },
    enrolled: ['totp', 'email'],
    events: [pwd(), second('email')],
    requestedAal: 2,
    expect: { outcome: 'challenge', methods: ['totp'] },
  },
  {
    name: 'policy allowing email: an email code satisfies the policy, but the login is aal1',
    mfa: { allowed_methods: ['email'] },
    enrolled: ['email'],
    events: [pwd(), second('email')],
    expect: { outcome: 'satisfied', aal: 1 },
  },
  {
    name: 'aal3 requested, only TOTP → deny',
    enrolled: ['totp'],
    events: [pwd(), second('totp')],
    requestedAal: 3,
    expect: { outcome: 'deny' },
    reasons: ['unsatisfiable'],
  },
  {
    name: 'aal3 requested, passkey enrolled → passkey only',
    enrolled: ['totp', 'passkey'],
    requestedAal: 3,
    expect: { outcome: 'challenge', methods: ['passkey'], requiredAal: 3 },
  },
  {
    name: 'aal3 requested, passkey just used',
    enrolled: ['passkey'],
    events: [pwd(), second('passkey')],
    requestedAal: 3,
    expect: { outcome: 'satisfied', aal: 3 },
  },
  { name: 'aal1 requested: the policy decides', enrolled: ['totp'], requestedAal: 1, expect: { outcome: 'challenge', methods: ['totp'] }, reasons: ['policy'] },

  // reauth interval
  {
    name: 'reauth 5 min, TOTP 4 min ago → fresh',
    mfa: { reauth_interval_minutes: 5 },
    enrolled: ['totp'],
    events: [pwd(4 * MIN), second('totp', 4 * MIN)],
    expect: { outcome: 'satisfied', aal: 2 },
  },
  {
    name: 'reauth 5 min, TOTP 6 min ago → stale',
    mfa: { reauth_interval_minutes: 5 },
    enrolled: ['totp'],
    events: [pwd(6 * MIN), second('totp', 6 * MIN)],
    expect: { outcome: 'challenge', methods: ['totp'] },
    reasons: ['reauth_due'],
  },
  {
    name: 'reauth 5 min, stale, on a trusted device: the device skips the policy challenge',
    mfa: { reauth_interval_minutes: 5 },
    enrolled: ['totp'],
    events: [pwd(6 * MIN), second('totp', 6 * MIN)],
    trustedDevice: true,
    expect: { outcome: 'satisfied' },
    reasons: ['trusted_device'],
  },
  // sensitive actions: a step-up with its own, shorter max age
  {
    name: 'sensitive action, TOTP 4 min ago, max age 5 min → allowed',
    enrolled: ['totp'],
    events: [pwd(60 * MIN), second('totp', 4 * MIN)],
    requestedAal: 2,
    secondFactorMaxAgeMs: 5 * MIN,
    expect: { outcome: 'satisfied' },
  },
  {
    name: 'sensitive action, TOTP 6 min ago, max age 5 min, no reauth interval → challenge',
    enrolled: ['totp'],
    events: [pwd(60 * MIN), second('totp', 6 * MIN)],
    requestedAal: 2,
    secondFactorMaxAgeMs: 5 * MIN,
    expect: { outcome: 'challenge' },
    reasons: ['reauth_due'],
  },
  {
    name: 'reauth 5 min, aal2 requested, step-up 6 min ago → expired',
    mfa: { reauth_interval_minutes: 5 },
    enrolled: ['totp'],
    events: [pwd(60 * MIN), second('totp', 6 * MIN)],
    requestedAal: 2,
    expect: { outcome: 'challenge' },
    reasons: ['acr_requested', 'reauth_due'],
  },
  {
    name: 'reauth 0, TOTP 10 h ago → still fresh (once per session)',
    enrolled: ['totp'],
    events: [pwd(600 * MIN), second('totp', 600 * MIN)],
    expect: { outcome: 'satisfied', aal: 2 },
  },
  {
    name: 'reauth 0, aal2 requested, TOTP 10 h ago → satisfied',
    enrolled: ['totp'],
    events: [pwd(600 * MIN), second('totp', 600 * MIN)],
    requestedAal: 2,
    expect: { outcome: 'satisfied' },
  },
];

test.each(rows)('$name', (row) => {
  const decision = decide({
    methods: row.methods ?? METHODS,
    mfa: { ...DEFAULT_MFA, ...row.mfa },
    account: { roles: row.roles ?? [], createdAt: new Date(NOW - (row.createdAgoMs ?? 30 * 24 * 60 * MIN)) },
    enrolled: row.enrolled ?? [],
    events: row.events ?? [pwd()],
    ...(row.requestedAal ? { requestedAal: row.requestedAal } : {}),
    trustedDevice: row.trustedDevice ?? false,
    now: NOW,
    ...(row.secondFactorMaxAgeMs ? { secondFactorMaxAgeMs: row.secondFactorMaxAgeMs } : {}),
  });
  expect(decision).toMatchObject(row.expect);
  if (row.reasons) expect(decision.reasons).toEqual(expect.arrayContaining(row.reasons));
  if (decision.outcome === 'deny') expect(decision.description).toBeTruthy();
});

test('pure: the same input gives the same verdict, and the input is not modified', () => {
  const input: DecisionInput = {
    methods: METHODS,
    mfa: { ...DEFAULT_MFA, reauth_interval_minutes: 5 },
    account: { roles: ['admin'], createdAt: new Date(NOW - MIN) },
    enrolled: ['totp'],
    events: [pwd(), second('totp', 6 * MIN)],
    trustedDevice: false,
    now: NOW,
  };
  const copy = structuredClone(input);
  expect(decide(input)).toEqual(decide(input));
  expect(input).toEqual(copy);
});

describe('amrOf: the values come from the descriptors of the methods proven', () => {
  test('password alone: pwd, no mfa', () => {
    expect(amrOf([pwd()], METHODS)).toEqual(['pwd']);
  });

  test("password and a method: the method's declared values once each, then mfa", () => {
    expect(amrOf([pwd(), second('totp'), second('backup_code')], METHODS)).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrOf([pwd(), second('passkey')], METHODS)).toEqual(['pwd', 'hwk', 'mfa']);
  });

  test('a value a descriptor declares is the one reported, whatever the method is called', () => {
    const renamed = METHODS.map((d) => (d.method === 'totp' ? { ...d, amr: ['swk', 'otp'] } : d));
    expect(amrOf([pwd(), second('totp')], renamed)).toEqual(['pwd', 'swk', 'otp', 'mfa']);
  });

  test('an event of a method with no plug-in adds no value of its own', () => {
    expect(amrOf([pwd(), second('sms')], METHODS)).toEqual(['pwd', 'mfa']);
  });
});

/** Rules, networks and layered settings: what skips MFA, what never can, and who is named as the decider. */
interface SignalRow {
  name: string;
  mfa?: Partial<MfaSettings>;
  roles?: string[];
  enrolled?: DecisionInput['enrolled'];
  events?: AuthEvent[];
  requestedAal?: DecisionInput['requestedAal'];
  trustedDevice?: boolean;
  rule?: RuleVerdict;
  network?: DecisionInput['network'];
  blockUnknown?: boolean;
  risk?: DecisionInput['risk'];
  expect: Partial<AuthnDecision> & { outcome: AuthnDecision['outcome'] };
  reasons?: string[];
  sources?: object[];
}

const OFFICE = { name: 'Office', skip_mfa: true };
const LAB = { name: 'Lab', skip_mfa: false };
const skipRule: RuleVerdict = { id: 'r-skip', outcome: 'skip_mfa' };
const requireRule: RuleVerdict = { id: 'r-req', outcome: 'require_mfa' };

const signalRows: SignalRow[] = [
  // trusted networks
  {
    name: 'a skip_mfa network skips the policy challenge',
    enrolled: ['totp'],
    network: OFFICE,
    expect: { outcome: 'satisfied', aal: 1 },
    reasons: ['policy', 'trusted_network'],
    sources: [{ source: 'network:Office', outcome: 'skip_mfa' }],
  },
  { name: 'a network without skip_mfa skips nothing', enrolled: ['totp'], network: LAB, expect: { outcome: 'challenge', methods: ['totp'] } },
  { name: 'outside every network: the policy applies', enrolled: ['totp'], network: null, expect: { outcome: 'challenge' } },
  {
    name: 'a skip_mfa network never satisfies acr_values=aal2',
    enrolled: ['totp'],
    network: OFFICE,
    requestedAal: 2,
    expect: { outcome: 'challenge', requiredAal: 2 },
    reasons: ['acr_requested'],
  },
  {
    name: 'a skip_mfa network never satisfies aal3',
    enrolled: ['passkey'],
    network: OFFICE,
    requestedAal: 3,
    expect: { outcome: 'challenge', requiredAal: 3 },
  },
  {
    name: "a skip_mfa network never lowers a role's required MFA",
    mfa: { required_for_roles: ['admin'] },
    roles: ['admin'],
    enrolled: ['totp'],
    network: OFFICE,
    expect: { outcome: 'challenge' },
    reasons: ['role_required'],
  },
  {
    name: "a skip_mfa network never lowers the policy's min_acr",
    mfa: { min_acr: 'aal2' },
    enrolled: ['totp'],
    network: OFFICE,
    expect: { outcome: 'challenge' },
    reasons: ['min_acr'],
  },
  {
    name: 'a skip_mfa network skips the enrolment the policy would force',
    mfa: { policy: 'otp' },
    network: OFFICE,
    expect: { outcome: 'satisfied' },
    reasons: ['trusted_network'],
  },
  {
    name: 'block_unknown: outside every network is refused, whatever was proven',
    enrolled: ['totp'],
    events: [pwd(), second('totp')],
    network: null,
    blockUnknown: true,
    expect: { outcome: 'deny' },
    reasons: ['network_blocked'],
    sources: [{ source: 'network:unknown', outcome: 'deny' }],
  },
  {
    name: 'block_unknown: inside a network without skip_mfa goes on to MFA',
    enrolled: ['totp'],
    network: LAB,
    blockUnknown: true,
    expect: { outcome: 'challenge' },
  },
  { name: 'block_unknown with no network facts (a sensitive action) blocks nothing', enrolled: ['totp'], blockUnknown: true, expect: { outcome: 'challenge' } },

  // rules
  {
    name: 'a skip_mfa rule skips the policy challenge',
    enrolled: ['totp'],
    rule: skipRule,
    expect: { outcome: 'satisfied' },
    reasons: ['rule_skipped'],
    sources: [{ source: 'rule:r-skip', outcome: 'skip_mfa' }],
  },
  { name: 'a skip_mfa rule never satisfies a step-up', enrolled: ['totp'], rule: skipRule, requestedAal: 2, expect: { outcome: 'challenge', requiredAal: 2 } },
  {
    name: "a skip_mfa rule never lowers a role's required MFA (nor its enrolment)",
    mfa: { required_for_roles: ['admin'] },
    roles: ['admin'],
    rule: skipRule,
    expect: { outcome: 'enroll' },
    reasons: ['role_required', 'not_enrolled'],
  },
  {
    name: 'a require_mfa rule asks MFA where the policy is disabled',
    mfa: { policy: 'disabled' },
    enrolled: ['totp'],
    rule: requireRule,
    expect: { outcome: 'challenge', methods: ['totp'] },
    reasons: ['rule_required'],
    sources: [{ source: 'rule:r-req', outcome: 'require_mfa' }],
  },
  { name: 'a require_mfa rule forces enrolment under `any`', rule: requireRule, expect: { outcome: 'enroll' }, reasons: ['rule_required', 'not_enrolled'] },
  { name: 'a require_mfa rule beats a skip_mfa network', enrolled: ['totp'], network: OFFICE, rule: requireRule, expect: { outcome: 'challenge' } },
  {
    name: "a require_mfa rule's methods narrow the policy's",
    enrolled: ['totp', 'backup_code'],
    rule: { ...requireRule, methods: ['totp'] },
    expect: { outcome: 'challenge', methods: ['totp'] },
  },
  {
    name: "a require_mfa rule's min_acr aal3 asks for a phishing-resistant factor",
    enrolled: ['totp', 'passkey'],
    rule: { ...requireRule, minAal: 3 },
    expect: { outcome: 'challenge', requiredAal: 3, methods: ['passkey'] },
    reasons: ['rule_required'],
  },
  {
    name: 'a rule that failed counts as require_mfa and says so',
    enrolled: ['totp'],
    rule: { id: 'r-bad', outcome: 'require_mfa', error: 'No such key: dept' },
    expect: { outcome: 'challenge' },
    reasons: ['rule_required', 'rule_failed'],
    sources: [{ source: 'rule:r-bad', outcome: 'require_mfa', error: 'No such key: dept' }],
  },
  {
    name: 'a failed rule is named even where a step-up decides',
    enrolled: ['totp'],
    requestedAal: 2,
    rule: { id: 'r-bad', outcome: 'require_mfa', error: 'boom' },
    expect: { outcome: 'challenge', requiredAal: 2 },
    reasons: ['acr_requested'],
    sources: [
      { source: 'request', key: 'acr_values' },
      { source: 'rule:r-bad', error: 'boom' },
    ],
  },
  {
    name: 'a deny rule refuses even a completed MFA',
    enrolled: ['totp'],
    events: [pwd(), second('totp')],
    rule: { id: 'r-deny', outcome: 'deny' },
    expect: { outcome: 'deny' },
    reasons: ['rule_denied'],
    sources: [{ source: 'rule:r-deny', outcome: 'deny' }],
  },
  {
    name: 'a network block comes before a skip rule',
    network: null,
    blockUnknown: true,
    rule: skipRule,
    expect: { outcome: 'deny' },
    reasons: ['network_blocked'],
  },

  // layered settings
  { name: 'min_acr aal2 with nothing enrolled: enrol', mfa: { policy: 'disabled', min_acr: 'aal2' }, expect: { outcome: 'enroll' }, reasons: ['min_acr'] },
  {
    name: 'min_acr aal3 with only TOTP: deny',
    mfa: { min_acr: 'aal3' },
    enrolled: ['totp'],
    expect: { outcome: 'deny' },
    reasons: ['min_acr', 'unsatisfiable'],
  },
  {
    name: 'min_acr aal2 met by a fresh TOTP',
    mfa: { min_acr: 'aal2' },
    enrolled: ['totp'],
    events: [pwd(), second('totp')],
    expect: { outcome: 'satisfied', aal: 2 },
  },
  {
    name: 'a trusted device still skips the policy (not a rule or network matter)',
    enrolled: ['totp'],
    trustedDevice: true,
    expect: { outcome: 'satisfied' },
    reasons: ['trusted_device'],
  },
  {
    name: 'an empty intersection of allowed methods cannot be met',
    mfa: { allowed_methods: [], enforce_enrollment: true },
    expect: { outcome: 'deny' },
    reasons: ['unsatisfiable'],
  },
  // adaptive MFA: the risk engine's verdict
  {
    name: 'risk deny refuses, even inside a skip_mfa network and with a fresh second factor',
    enrolled: ['totp'],
    network: OFFICE,
    events: [pwd(), second('totp')],
    risk: { score: 0.95, recommendation: 'deny' },
    expect: { outcome: 'deny' },
    reasons: ['risk_denied'],
    sources: [{ source: 'risk', outcome: 'deny' }],
  },
  {
    name: 'risk challenge asks the second factor although the policy is disabled',
    mfa: { policy: 'disabled' },
    enrolled: ['totp'],
    risk: { score: 0.6, recommendation: 'challenge' },
    expect: { outcome: 'challenge', methods: ['totp'] },
    reasons: ['risk_challenge'],
    sources: [{ source: 'risk', outcome: 'require_mfa' }],
  },
  {
    name: 'risk challenge is not waived by a skip_mfa network, a skip rule or a trusted device',
    enrolled: ['totp'],
    network: OFFICE,
    rule: skipRule,
    trustedDevice: true,
    risk: { score: 0.6, recommendation: 'challenge' },
    expect: { outcome: 'challenge', methods: ['totp'] },
  },
  {
    name: 'risk challenge is met by a second factor of this sign-in',
    enrolled: ['totp'],
    events: [pwd(), second('totp')],
    risk: { score: 0.6, recommendation: 'challenge' },
    expect: { outcome: 'satisfied', aal: 2 },
  },
  {
    name: 'risk challenge never forces an enrolment (only the password is proven)',
    mfa: { policy: 'disabled' },
    enrolled: [],
    risk: { score: 0.6, recommendation: 'challenge' },
    expect: { outcome: 'satisfied', aal: 1 },
  },
  {
    name: 'risk challenge with enrolment enforced but no factor: the enrolment the policy asks, not one the risk asks',
    mfa: { enforce_enrollment: true },
    enrolled: [],
    risk: { score: 0.6, recommendation: 'challenge' },
    expect: { outcome: 'enroll' },
  },
  { name: 'risk allow changes nothing', enrolled: ['totp'], network: OFFICE, risk: { score: 0.1, recommendation: 'allow' }, expect: { outcome: 'satisfied' } },
];

describe('decide() with rules, networks and layers', () => {
  test.each(signalRows)('$name', (row) => {
    const decision = decide({
      methods: METHODS,
      mfa: { ...DEFAULT_MFA, ...row.mfa },
      account: { roles: row.roles ?? [], createdAt: new Date(NOW - 30 * 24 * 60 * MIN) },
      enrolled: row.enrolled ?? [],
      events: row.events ?? [pwd()],
      ...(row.requestedAal ? { requestedAal: row.requestedAal } : {}),
      trustedDevice: row.trustedDevice ?? false,
      now: NOW,
      ...(row.rule ? { rule: row.rule } : {}),
      ...(row.network !== undefined ? { network: row.network } : {}),
      ...(row.blockUnknown ? { blockUnknown: true } : {}),
      ...(row.risk ? { risk: row.risk } : {}),
    });
    expect(decision).toMatchObject(row.expect);
    if (row.reasons) expect(decision.reasons).toEqual(expect.arrayContaining(row.reasons));
    if (row.sources) expect(decision.sources).toEqual(expect.arrayContaining(row.sources.map((s) => expect.objectContaining(s))));
  });

  test('the layer that set the mode, and the role that requires MFA, are named', () => {
    const layers = [
      { source: 'global', mfa: { policy: 'any' as const } },
      { source: 'organization', mfa: { required_for_roles: ['ops'] } },
      ...roleLayers({ admin: { mfa: { policy: 'otp' } } }, ['admin', 'ops']).map((l) => ({ source: l.source, mfa: l.patch?.mfa })),
    ];
    const { mfa, provenance } = mergeMfa(DEFAULT_MFA, layers);
    const decision = decide({
      methods: METHODS,
      mfa,
      provenance,
      account: { roles: ['admin', 'ops'], createdAt: new Date(0) },
      enrolled: ['totp'],
      events: [pwd()],
      trustedDevice: false,
      now: NOW,
    });
    expect(decision).toMatchObject({ outcome: 'challenge', reasons: ['role_required'] });
    expect(decision.sources).toEqual([{ source: 'organization', key: 'required_for_roles:ops' }]);
    const notRequired = decide({
      methods: METHODS,
      mfa,
      provenance,
      account: { roles: ['admin'], createdAt: new Date(0) },
      enrolled: ['totp'],
      events: [pwd()],
      trustedDevice: false,
      now: NOW,
    });
    expect(notRequired.sources).toEqual([{ source: 'role:admin', key: 'policy' }]);
  });
});

describe('mergeMfa: global ⊕ organisation ⊕ role ⊕ client', () => {
  const base = { ...DEFAULT_MFA, allowed_methods: ['totp', 'passkey', 'backup_code'] } as MfaSettings;

  test('most specific wins for the mode; allowed methods only narrow after the global layer', () => {
    const { mfa, provenance } = mergeMfa(base, [
      { source: 'global', mfa: { allowed_methods: ['totp', 'passkey', 'backup_code', 'email'] } },
      { source: 'organization', mfa: { policy: 'otp', allowed_methods: ['totp', 'backup_code', 'email'] } },
      { source: 'role:admin', mfa: { policy: 'passkey', allowed_methods: ['passkey', 'totp', 'sms'] } },
      { source: 'client', mfa: { allowed_methods: ['totp', 'passkey', 'backup_code'] } },
    ]);
    expect(mfa.policy).toBe('passkey');
    expect(provenance.policy).toBe('role:admin');
    // The role cannot add sms, nor the client bring back backup codes the role dropped.
    expect(mfa.allowed_methods).toEqual(['totp']);
  });

  test('the strictest min_acr wins whatever the order; required roles add up', () => {
    const { mfa, provenance } = mergeMfa(base, [
      { source: 'global', mfa: { min_acr: 'aal2', required_for_roles: ['admin'] } },
      { source: 'organization', mfa: { min_acr: 'aal3', required_for_roles: ['ops'] } },
      { source: 'client', mfa: { min_acr: 'aal1', required_for_roles: [] } },
    ]);
    expect(mfa.min_acr).toBe('aal3');
    expect(provenance.min_acr).toBe('organization');
    expect(mfa.required_for_roles.sort()).toEqual(['admin', 'ops']);
  });

  test('role layers apply in role-name order, only for roles the user holds', () => {
    const layers = roleLayers({ b: { mfa: { policy: 'passkey' } }, a: { mfa: { policy: 'otp' } }, c: { mfa: { policy: 'disabled' } } }, ['b', 'a']);
    expect(layers.map((l) => l.source)).toEqual(['role:a', 'role:b']);
  });
});
