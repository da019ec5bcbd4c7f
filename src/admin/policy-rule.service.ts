import type { AuditService } from '../audit/audit.service.js';
import { badRequest, notFound } from '../lib/errors.js';
import { requestedAalOf } from '../policy/assurance.js';
import { decide } from '../policy/engine.js';
import { networkOf } from '../policy/networks.js';
import { compileCondition, type RuleContext } from '../policy/rules.js';
import type { RulesService } from '../policy/rules.service.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { FactorDescriptor } from '../policy/types.js';
import type { PolicyRuleRow } from '../store/database.js';
import type { ClientRecord } from '../store/repositories/client.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { PolicyRuleFields, PolicyRuleRepository } from '../store/repositories/policy-rule.repository.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';
import type { CreateRuleInput, SimulateInput, UpdateRuleInput } from './policy-rule.schema.js';

export interface PolicyRuleServiceDeps {
  rules: PolicyRuleRepository;
  engine: RulesService;
  settings: SettingsService;
  organizations: Pick<OrganizationRepository, 'findById'>;
  clients: { find(id: string): Promise<ClientRecord | undefined> };
  methods: readonly FactorDescriptor[];
  audit: AuditService;
  clock: { now(): number };
}

export function ruleView(r: PolicyRuleRow) {
  return {
    id: r.id,
    name: r.name,
    condition: r.condition,
    outcome: r.outcome,
    methods: r.methods,
    min_acr: r.minAcr,
    priority: r.priority,
    enabled: r.enabled,
    organization_id: r.organizationId,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/** A condition is compiled and type-checked before it is stored: a rule that cannot run is refused, not saved. */
function assertCompiles(condition: string | undefined): void {
  if (condition === undefined) return;
  try {
    compileCondition(condition);
  } catch (err) {
    throw badRequest(`condition: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Methods and min_acr shape what a `require_mfa` rule asks; on other outcomes they would silently mean nothing. */
function assertCoherent(rule: Pick<PolicyRuleFields, 'outcome' | 'methods' | 'minAcr'>): void {
  if (rule.outcome !== 'require_mfa' && rule.methods) throw badRequest('methods: only a require_mfa rule names methods');
  if (rule.outcome !== 'require_mfa' && rule.minAcr) throw badRequest('min_acr: only a require_mfa rule asks for an assurance level');
}

/**
 * The sign-in rules API and the policy simulator. Organisation-bound keys see and change only
 * their organisation's rules (others, global ones included, answer 404 like absent ones).
 */
export function createPolicyRuleService(deps: PolicyRuleServiceDeps) {
  const { rules, audit } = deps;

  async function find(id: string, scope: OrgScope): Promise<PolicyRuleRow> {
    const rule = await rules.find(id);
    if (!rule || !visible(rule.organizationId, scope)) throw notFound('no such rule');
    return rule;
  }
  const visible = (orgId: string | null, scope: OrgScope) => scope.organizationId === null || (orgId !== null && reaches(scope, orgId));

  /** The organisation a new rule or a simulation is for: a bound key's own; another named one must exist. */
  async function organizationFor(requested: string | null | undefined, scope: OrgScope): Promise<string | null> {
    if (scope.organizationId !== null) {
      if (requested != null && requested !== scope.organizationId) throw notFound('no such organization');
      return scope.organizationId;
    }
    if (requested == null) return null;
    if (!(await deps.organizations.findById(requested))) throw notFound('no such organization');
    return requested;
  }

  const changed = async (type: string, by: Caller, rule: PolicyRuleRow, data: Record<string, unknown>) => {
    deps.engine.changed();
    await audit.record({
      type,
      outcome: 'success',
      ...by,
      subject: rule.id,
      organizationId: rule.organizationId ?? undefined,
      data: { name: rule.name, ...data },
    });
  };

  return {
    async create(input: CreateRuleInput, by: Caller) {
      assertCompiles(input.condition);
      const fields: PolicyRuleFields = {
        name: input.name,
        condition: input.condition,
        outcome: input.outcome,
        methods: input.methods ?? null,
        minAcr: input.min_acr ?? null,
        priority: input.priority,
        enabled: input.enabled ?? true,
        organizationId: await organizationFor(input.organization_id, by),
      };
      assertCoherent(fields);
      const rule = await rules.create(fields);
      await changed('admin.policy_rule.created', by, rule, { condition: rule.condition, outcome: rule.outcome, priority: rule.priority });
      return ruleView(rule);
    },

    list: async (scope: OrgScope) => (await rules.list()).filter((r) => visible(r.organizationId, scope)).map(ruleView),

    get: async (id: string, scope: OrgScope) => ruleView(await find(id, scope)),

    async update(id: string, input: UpdateRuleInput, by: Caller) {
      const current = await find(id, by);
      assertCompiles(input.condition);
      const fields: Partial<PolicyRuleFields> = {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.condition !== undefined ? { condition: input.condition } : {}),
        ...(input.outcome !== undefined ? { outcome: input.outcome } : {}),
        ...(input.methods !== undefined ? { methods: input.methods } : {}),
        ...(input.min_acr !== undefined ? { minAcr: input.min_acr } : {}),
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
      };
      assertCoherent({ outcome: current.outcome, methods: current.methods, minAcr: current.minAcr, ...fields });
      const rule = await rules.update(id, fields);
      if (!rule) throw notFound('no such rule');
      await changed('admin.policy_rule.updated', by, rule, { changes: input });
      return ruleView(rule);
    },

    async remove(id: string, by: Caller) {
      const rule = await find(id, by);
      if (!(await rules.remove(id))) throw notFound('no such rule');
      await changed('admin.policy_rule.deleted', by, rule, {});
    },

    /** What decide() answers for these facts with the rules and settings in force now; nothing is written. */
    async simulate(input: SimulateInput, scope: OrgScope) {
      const c = input.context;
      const orgId = await organizationFor(c.user.organization, scope);
      const client = c.client.id ? await deps.clients.find(c.client.id) : undefined;
      const { settings, provenance } = await deps.settings.resolve({ orgId: orgId ?? undefined, roles: c.user.roles, clientPolicy: client?.mfaPolicy });
      const network = networkOf(settings.networks.trusted, c.ip);
      const now = deps.clock.now();
      const at = new Date(now);
      const context: RuleContext = {
        ...c,
        user: { ...c.user, organization: orgId ?? '' },
        network: network?.name ?? null,
        time: { hour: BigInt(c.time?.hour ?? at.getUTCHours()), weekday: BigInt(c.time?.weekday ?? at.getUTCDay()) },
      };
      const decision = decide({
        methods: deps.methods,
        mfa: settings.mfa,
        provenance,
        account: { roles: c.user.roles, createdAt: new Date(0) },
        enrolled: input.enrolled,
        events: [{ factor: 'password', at: now, secondFactor: false, phishingResistant: false }],
        requestedAal: requestedAalOf(input.acr_values),
        trustedDevice: c.device_known,
        now,
        rule: await deps.engine.verdict(orgId, context),
        network: network ? { name: network.name, skip_mfa: network.skip_mfa } : null,
        blockUnknown: settings.networks.block_unknown,
      });
      return { decision, reasons: decision.reasons, sources: decision.sources ?? [] };
    },
  };
}

export type PolicyRuleService = ReturnType<typeof createPolicyRuleService>;
