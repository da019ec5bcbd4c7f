/**
 * decide() as a table: the same facts always give the same verdict, for the login, the session
 * Check and step-up alike.
 */
import { amrOf } from '../../src/policy/assurance.js';
import { decide, type DecisionInput } from '../../src/policy/engine.js';
import { defaultSettings, type MfaSettings } from '../../src/policy/settings.js';
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
