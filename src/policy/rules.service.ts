import type { Logger } from '../lib/logger.js';
import type { PolicyRuleRepository } from '../store/repositories/policy-rule.repository.js';
import type { PolicyRuleRow } from '../store/database.js';
import type { RuleVerdict } from './engine.js';
import { compileCondition, firstMatch, type Condition, type PolicyRule, type RuleContext } from './rules.js';
import type { MfaMethod } from './types.js';

export interface RulesServiceDeps {
  rules: PolicyRuleRepository;
  logger: Logger;
}

/** Rules older than this are re-read, so a change made on one node applies everywhere within a second. */
const CACHE_MS = 1000;
const COMPILED_MAX = 1000;

export const ruleOf = (r: PolicyRuleRow): PolicyRule => ({
  id: r.id,
  name: r.name,
  condition: r.condition,
  outcome: r.outcome,
  methods: r.methods as MfaMethod[] | null,
  minAcr: r.minAcr,
  priority: r.priority,
  enabled: r.enabled,
  organizationId: r.organizationId,
});

/** The rules that apply to a login (the global ones and its organisation's), cached briefly, and their first match. */
export function createRulesService(deps: RulesServiceDeps) {
  const cache = new Map<string, { at: number; rules: PolicyRule[] }>();
  const compiled = new Map<string, Condition>();

  function compile(source: string): Condition {
    let c = compiled.get(source);
    if (!c) {
      c = compileCondition(source);
      if (compiled.size >= COMPILED_MAX) compiled.clear();
      compiled.set(source, c);
    }
    return c;
  }

  async function rulesFor(orgId: string | null): Promise<PolicyRule[]> {
    const key = orgId ?? '';
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.rules;
    const rules = (await deps.rules.list(orgId)).map(ruleOf);
    cache.set(key, { at: Date.now(), rules });
    return rules;
  }

  return {
    /** The first rule that does not abstain for this login; a rule that fails counts as `require_mfa` and is logged. */
    async verdict(orgId: string | null, context: RuleContext): Promise<RuleVerdict | undefined> {
      return firstMatch(
        await rulesFor(orgId),
        context,
        ({ rule, error }) => deps.logger.warn({ rule: rule.id, error }, 'sign-in rule failed; counted as require_mfa'),
        compile,
      );
    },
    /** After a change through the API: this node sees it at once, the others within CACHE_MS. */
    changed(): void {
      cache.clear();
    },
  };
}

export type RulesService = ReturnType<typeof createRulesService>;
