/**
 * Sign-in rules: conditions are checked when saved (bad ones named), evaluated in priority order,
 * first match wins, and a condition that fails counts as require_mfa.
 */
import { loginSignals } from '../../src/policy/login-context.js';
import { networkOf, parseCidr } from '../../src/policy/networks.js';
import { compileCondition, firstMatch, type PolicyRule, type RuleContext } from '../../src/policy/rules.js';

const NOW = Date.UTC(2030, 0, 7, 9, 30); // a Monday, 09:30 UTC

const { context: ctx } = loginSignals(
  {
    user: { id: 'u1', username: 'ada', email: 'Ada@Example.COM', roles: ['admin'], organizationId: 'org-1', attributes: { dept: 'ops' } },
    client: { id: 'portal', firstParty: true },
    ip: '192.0.2.10',
    deviceKnown: false,
    now: NOW,
  },
  { trusted: [{ name: 'Office', cidr: '192.0.2.0/24', skip_mfa: true }], block_unknown: false },
);

let seq = 0;
const rule = (condition: string, outcome: PolicyRule['outcome'], extra: Partial<PolicyRule> = {}): PolicyRule => ({
  id: `r${++seq}`,
  name: condition,
  condition,
  outcome,
  methods: null,
  minAcr: null,
  priority: seq,
  enabled: true,
  organizationId: null,
  ...extra,
});

describe('the login context', () => {
  test('is built from the login facts: email domain, network, UTC hour and weekday', () => {
    expect(ctx).toMatchObject({
      user: { email_domain: 'example.com', roles: ['admin'] },
      network: 'Office',
      time: { hour: 9n, weekday: 1n },
      risk: null,
      country: null,
    });
  });
});

describe('compileCondition', () => {
  test.each([
    ['"admin" in user.roles', ctx, true],
    ['network == "Office" && client.first_party', ctx, true],
    ['time.hour >= 18 || time.weekday == 0', ctx, false],
    ['user.email_domain.endsWith("example.com") && !device_known', ctx, true],
    ['risk == null || risk > 0.7', ctx, true],
    ['user.roles.exists(r, r.startsWith("adm"))', ctx, true],
    ['user.attributes.dept == "ops"', ctx, true],
  ] as [string, RuleContext, boolean][])('%s', (source, context, expected) => {
    expect(compileCondition(source)(context)).toBe(expected);
  });

  test.each([
    ['"admin" in', /Unexpected/],
    ['user.nope == 1', /nope|field|key/i],
    ['undeclared_variable', /Unknown variable/],
    ['user.email_domain == 1', /overload/],
    ['user.username', /must be a bool/],
    ['user.username.matches("(a+)+$")', /matches\(\) is not available/],
    ['user.roles.all(a, user.roles.all(b, a == b))', /cannot be nested/],
    [`${'('.repeat(40)}true${')'.repeat(40)}`, /maxDepth|depth/i],
    [Array.from({ length: 70 }, () => 'true').join('||'), /maxAstNodes/],
    ['x'.repeat(1001), /longer than/],
  ])('refused: %s', (source, problem) => {
    expect(() => compileCondition(source)).toThrow(problem);
  });
});

describe('firstMatch', () => {
  const noFailure = () => {
    throw new Error('no rule should fail here');
  };

  test('rules run in the order given; the first whose condition holds wins; false abstains', () => {
    const rules = [
      rule('time.hour > 20', 'deny'),
      rule('"admin" in user.roles', 'require_mfa', { minAcr: 'aal3', methods: ['passkey'] }),
      rule('true', 'skip_mfa'),
    ];
    expect(firstMatch(rules, ctx, noFailure)).toEqual({ id: rules[1]!.id, outcome: 'require_mfa', minAal: 3, methods: ['passkey'] });
  });

  test('a disabled rule is skipped', () => {
    const rules = [rule('true', 'deny', { enabled: false }), rule('true', 'skip_mfa')];
    expect(firstMatch(rules, ctx, noFailure)).toMatchObject({ id: rules[1]!.id, outcome: 'skip_mfa' });
  });

  test('no rule holds: no verdict', () => {
    expect(firstMatch([rule('false', 'deny')], ctx, noFailure)).toBeUndefined();
  });

  test('a rule that throws counts as require_mfa (before a later skip), and is reported', () => {
    const failures: string[] = [];
    const rules = [rule('user.attributes.missing == "x"', 'skip_mfa'), rule('true', 'skip_mfa')];
    const verdict = firstMatch(rules, ctx, (f) => failures.push(`${f.rule.id}: ${f.error}`));
    expect(verdict).toEqual({ id: rules[0]!.id, outcome: 'require_mfa', error: expect.stringMatching(/missing/) });
    expect(failures).toEqual([expect.stringContaining(rules[0]!.id)]);
  });

  test('a dyn condition that does not give a bool fails the same way', () => {
    const verdict = firstMatch([rule('user.attributes.dept', 'skip_mfa')], ctx, () => undefined);
    expect(verdict).toMatchObject({ outcome: 'require_mfa', error: expect.stringContaining('not a bool') });
  });
});

describe('networks', () => {
  const nets = [
    { name: 'v4', cidr: '10.1.0.0/16' },
    { name: 'v6', cidr: '2001:db8:abcd::/48' },
    { name: 'host', cidr: '198.51.100.7' },
  ];
  test.each([
    ['10.1.200.3', 'v4'],
    ['::ffff:10.1.0.9', 'v4'],
    ['2001:db8:abcd:12::1', 'v6'],
    ['2001:db8:abce::1', undefined],
    ['198.51.100.7', 'host'],
    ['198.51.100.8', undefined],
    ['10.2.0.1', undefined],
    ['unknown', undefined],
    ['10.1.0.1, 10.1.0.2', undefined],
    ['', undefined],
  ])('%s → %s', (ip, name) => {
    expect(networkOf(nets, ip)?.name).toBe(name);
  });

  test.each(['10.0.0.0/33', '2001:db8::/129', '10.0.0/8', 'not-an-ip', '::ffff:10.0.0.1/8', '10.0.0.0/'])('CIDR refused: %s', (cidr) => {
    expect(parseCidr(cidr)).toBeUndefined();
  });
});
