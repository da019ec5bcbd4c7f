/**
 * An active break-glass grant raises the assurance every login of its user must reach (the
 * organisation's `break_glass.min_acr`): a password alone, a trusted device, a trusted network or a
 * `skip_mfa` rule never satisfy it, and it is named in the decision's reasons and sources.
 */
import { decide, type DecisionInput } from '../../src/policy/engine.js';
import { defaultSettings } from '../../src/policy/settings.js';
import type { AuthEvent, FactorDescriptor } from '../../src/policy/types.js';
import { totpDescriptor } from '../../src/authn/factors/totp/totp.factor.js';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const PASSKEY: FactorDescriptor = {
  method: 'passkey',
  amr: ['hwk'],
  secondFactor: true,
  phishingResistant: true,
  aal: 3,
  enrollableInLogin: false,
  recovery: false,
};
const METHODS = [totpDescriptor, PASSKEY];
const MFA_OFF = {
  ...defaultSettings({ maxFailures: 5, lockMinutes: [1], mfaMaxFailures: 10 }, ['totp', 'passkey'], { absoluteSeconds: 43200, idleSeconds: 1800 }).mfa,
  policy: 'disabled' as const,
};
const pwd: AuthEvent = { factor: 'password', at: NOW, secondFactor: false, phishingResistant: false };
const totp: AuthEvent = { factor: 'totp', at: NOW, secondFactor: true, phishingResistant: false, aal: 2 };

const input = (over: Partial<DecisionInput> = {}): DecisionInput => ({
  methods: METHODS,
  mfa: MFA_OFF,
  account: { roles: [], createdAt: new Date(0) },
  enrolled: ['totp', 'passkey'],
  events: [pwd],
  trustedDevice: false,
  now: NOW,
  ...over,
});
const grant = { grantId: 'g-1', minAal: 2 as const };

test('without a grant a password satisfies a disabled policy; with one it is a challenge naming the grant', () => {
  expect(decide(input()).outcome).toBe('satisfied');
  const d = decide(input({ breakGlass: grant }));
  expect(d).toMatchObject({ outcome: 'challenge', requiredAal: 2, methods: ['totp', 'passkey'] });
  expect(d.reasons).toContain('break_glass');
  expect(d.sources).toContainEqual({ source: 'break_glass:g-1', key: 'min_acr' });
});

test('a trusted device, a trusted network or a skip_mfa rule never satisfy it', () => {
  for (const over of [{ trustedDevice: true }, { network: { name: 'Office', skip_mfa: true } }, { rule: { id: 'r', outcome: 'skip_mfa' as const } }]) {
    expect(decide(input({ breakGlass: grant, ...over })).outcome).toBe('challenge');
  }
});

test('a fresh second factor satisfies aal2; aal3 asks for a phishing-resistant one', () => {
  expect(decide(input({ breakGlass: grant, events: [pwd, totp] })).outcome).toBe('satisfied');
  const aal3 = decide(input({ breakGlass: { grantId: 'g-3', minAal: 3 }, events: [pwd, totp], trustedDevice: true }));
  expect(aal3).toMatchObject({ outcome: 'challenge', requiredAal: 3, methods: ['passkey'] });
});

test("the organisation's own min_acr is still named beside the grant", () => {
  const d = decide(input({ breakGlass: grant, mfa: { ...MFA_OFF, min_acr: 'aal2' } }));
  expect(d.reasons).toEqual(expect.arrayContaining(['break_glass', 'min_acr']));
});
