import { CONDITION_MAX_LENGTH } from '../policy/rules.js';
import { roleName } from '../policy/settings.js';
import { MFA_METHODS } from '../policy/types.js';
import { z } from '../lib/zod.js';

const ruleFields = {
  name: z.string().min(1).max(100),
  condition: z.string().min(1).max(CONDITION_MAX_LENGTH),
  outcome: z.enum(['skip_mfa', 'require_mfa', 'deny']),
  methods: z.array(z.enum(MFA_METHODS)).min(1).max(MFA_METHODS.length).nullable(),
  min_acr: z.enum(['aal1', 'aal2', 'aal3']).nullable(),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  enabled: z.boolean(),
  organization_id: z.uuid().nullable(),
};

export const createRuleBody = z.strictObject({
  ...ruleFields,
  methods: ruleFields.methods.optional(),
  min_acr: ruleFields.min_acr.optional(),
  enabled: ruleFields.enabled.optional(),
  organization_id: ruleFields.organization_id.optional(),
});
/** The organisation a rule belongs to is fixed once it is created. */
export const updateRuleBody = z.strictObject({
  name: ruleFields.name.optional(),
  condition: ruleFields.condition.optional(),
  outcome: ruleFields.outcome.optional(),
  methods: ruleFields.methods.optional(),
  min_acr: ruleFields.min_acr.optional(),
  priority: ruleFields.priority.optional(),
  enabled: ruleFields.enabled.optional(),
});

export const ruleIdParams = z.object({ id: z.uuid() });

const shortString = z.string().max(256);

/** A login's facts as a rule reads them (integers as JSON numbers), plus what decide() needs beside them. */
export const simulateBody = z.strictObject({
  context: z.strictObject({
    user: z.strictObject({
      id: shortString.default(''),
      username: shortString.default(''),
      email_domain: shortString.default(''),
      roles: z.array(roleName).max(100).default([]),
      organization: z.uuid().nullable().default(null),
      attributes: z.record(z.string().max(64), z.union([shortString, z.number(), z.boolean(), z.null()])).default({}),
    }),
    client: z.strictObject({ id: shortString.default(''), first_party: z.boolean().default(false) }).default({ id: '', first_party: false }),
    ip: z.string().max(64).default(''),
    country: z.string().length(2).nullable().default(null),
    device_known: z.boolean().default(false),
    time: z.strictObject({ hour: z.number().int().min(0).max(23), weekday: z.number().int().min(0).max(6) }).optional(),
    risk: z.number().min(0).max(1).nullable().default(null),
  }),
  enrolled: z.array(z.enum(MFA_METHODS)).max(MFA_METHODS.length).default([]),
  acr_values: z.string().max(64).optional(),
});

export type CreateRuleInput = z.infer<typeof createRuleBody>;
export type UpdateRuleInput = z.infer<typeof updateRuleBody>;
export type SimulateInput = z.infer<typeof simulateBody>;
