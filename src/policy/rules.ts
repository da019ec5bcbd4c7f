import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { aalFromAcr } from './assurance.js';
import type { RuleVerdict } from './engine.js';
import type { MfaMethod, RuleOutcome } from './types.js';

/**
 * Sign-in rules: conditions in CEL (the Common Expression Language: no loops, no side effects, no
 * access to anything but the variables declared here), type-checked against the login context
 * when a rule is saved and evaluated per login, first match wins.
 */

/** What a condition can read about one login. Integers are bigints, as CEL's `int` is. */
export interface RuleContext {
  user: { id: string; username: string; email_domain: string; roles: string[]; organization: string; attributes: Record<string, unknown> };
  client: { id: string; first_party: boolean };
  ip: string;
  /** The trusted network the address is in, or null. */
  network: string | null;
  country: string | null;
  device_known: boolean;
  /** UTC: hour 0..23, weekday 0 (Sunday)..6. */
  time: { hour: bigint; weekday: bigint };
  /** 0..1, or null while no risk score is computed. */
  risk: number | null;
}

export const CONDITION_MAX_LENGTH = 1000;
/** Structural caps, checked by the parser: with one level of comprehension over lists of bounded size, every evaluation is bounded. */
const LIMITS = { maxAstNodes: 128, maxDepth: 16, maxListElements: 64, maxMapEntries: 32, maxCallArguments: 4 };
/**
 * A condition that runs longer than this counts as failed. Evaluation is synchronous and cannot be
 * stopped mid-way: the structural caps keep it to microseconds; this catches what they miss.
 */
export const EVALUATION_BUDGET_MS = 20;

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
/** `matches` runs a regular expression the JavaScript engine backtracks on (ReDoS); `startsWith`, `endsWith`, `contains` and `in` remain. */
const REFUSED_CALLS = new Set(['matches']);

const env = new Environment({ limits: LIMITS })
  .registerVariable({
    name: 'user',
    schema: { id: 'string', username: 'string', email_domain: 'string', roles: 'list<string>', organization: 'string', attributes: 'map<string, dyn>' },
  })
  .registerVariable({ name: 'client', schema: { id: 'string', first_party: 'bool' } })
  .registerVariable('ip', 'string')
  .registerVariable('network', 'dyn')
  .registerVariable('country', 'dyn')
  .registerVariable('device_known', 'bool')
  .registerVariable({ name: 'time', schema: { hour: 'int', weekday: 'int' } })
  .registerVariable('risk', 'dyn');

/** A problem found in a condition, worded for the 400 answer. */
export class ConditionError extends Error {}

function walk(node: ASTNode, depthInComprehension: number): void {
  const args: unknown = node.args;
  if (node.op === 'rcall' || node.op === 'call') {
    const name = (args as [string])[0];
    if (REFUSED_CALLS.has(name)) throw new ConditionError(`${name}() is not available in sign-in rules`);
    if (node.op === 'rcall' && COMPREHENSIONS.has(name) && depthInComprehension > 0)
      throw new ConditionError(`${name}() cannot be nested inside another list macro`);
    const inner = node.op === 'rcall' && COMPREHENSIONS.has(name) ? depthInComprehension + 1 : depthInComprehension;
    for (const a of (args as unknown[]).flat(2)) if (isNode(a)) walk(a, inner);
    return;
  }
  if (Array.isArray(args)) for (const a of args.flat(2)) if (isNode(a)) walk(a, depthInComprehension);
}

const isNode = (v: unknown): v is ASTNode => typeof v === 'object' && v !== null && 'op' in v && 'args' in v;

export type Condition = (ctx: RuleContext) => boolean;

/** Parses and type-checks a condition; throws ConditionError naming the problem. */
export function compileCondition(source: string): Condition {
  if (source.length > CONDITION_MAX_LENGTH) throw new ConditionError(`longer than ${CONDITION_MAX_LENGTH} characters`);
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    throw new ConditionError(firstLine(err));
  }
  walk(parsed.ast, 0);
  const checked = parsed.check();
  if (!checked.valid) throw new ConditionError(firstLine(checked.error));
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new ConditionError(`must be a bool expression, not ${checked.type}`);
  return (ctx) => {
    const value: unknown = parsed(ctx);
    if (typeof value !== 'boolean') throw new Error(`the condition gave ${typeof value}, not a bool`);
    return value;
  };
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();

/** A stored rule as the engine needs it. */
export interface PolicyRule {
  id: string;
  name: string;
  condition: string;
  outcome: RuleOutcome;
  methods: MfaMethod[] | null;
  minAcr: 'aal1' | 'aal2' | 'aal3' | null;
  priority: number;
  enabled: boolean;
  organizationId: string | null;
}

export interface RuleFailure {
  rule: PolicyRule;
  error: string;
}

/**
 * The first enabled rule (in priority order, lowest first) whose condition holds. A condition
 * that throws, gives no bool or runs over its budget counts as `require_mfa` and is reported.
 */
export function firstMatch(
  rules: readonly PolicyRule[],
  ctx: RuleContext,
  onFailure: (failure: RuleFailure) => void,
  compile: (source: string) => Condition = compileCondition,
): RuleVerdict | undefined {
  for (const rule of rules) {
    if (!rule.enabled) continue;
    let matched: boolean;
    try {
      const condition = compile(rule.condition);
      const started = performance.now();
      matched = condition(ctx);
      if (performance.now() - started > EVALUATION_BUDGET_MS) throw new Error(`ran over its ${EVALUATION_BUDGET_MS} ms budget`);
    } catch (err) {
      const error = firstLine(err);
      onFailure({ rule, error });
      return { id: rule.id, outcome: 'require_mfa', error };
    }
    if (!matched) continue;
    const minAal = aalFromAcr(rule.minAcr ?? undefined);
    return { id: rule.id, outcome: rule.outcome, ...(rule.methods ? { methods: rule.methods } : {}), ...(minAal ? { minAal } : {}) };
  }
  return undefined;
}
