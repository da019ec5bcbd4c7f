import { BREAK_GLASS_STATES } from '../store/repositories/break-glass.repository.js';
import { z } from '../lib/zod.js';

/** A role or permission name as tokens carry it: `billing.admin`, `support:read`, `db-operator`. */
const PERMISSION = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_PERMISSIONS = 20;

/**
 * An emergency access request. Everything else a grant holds (status, approver, times) is set by
 * the server: a body naming it is refused (strict object), so nobody approves by asking.
 */
export const breakGlassRequestBody = z.strictObject({
  user_id: z.uuid(),
  reason: z
    .string()
    .max(1000)
    .transform((s) => s.trim())
    .refine((s) => s.length > 0, 'must not be empty'),
  /** Seconds; the server's `breakGlass.maxDurationSeconds` caps it. */
  duration: z.number().int().positive(),
  permissions: z
    .array(z.string().regex(PERMISSION, 'a role or permission name (letters, digits, _ . : -, at most 64)'))
    .min(1)
    .max(MAX_PERMISSIONS)
    .refine((p) => new Set(p).size === p.length, 'must not repeat a name'),
  notify_admins: z.boolean().default(false),
});

export const breakGlassReviewBody = z.strictObject({
  outcome: z.enum(['appropriate', 'inappropriate']),
  notes: z.string().max(2000).optional(),
});

/** Approval and denial take nothing: a body naming a field (`self_approved`, `expires_at`) is refused. */
export const breakGlassDecisionBody = z.strictObject({});

export const breakGlassIdParams = z.object({ id: z.uuid() });

export const breakGlassListQuery = z.strictObject({
  status: z.enum(BREAK_GLASS_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export type BreakGlassRequestInput = z.infer<typeof breakGlassRequestBody>;
export type BreakGlassReviewInput = z.infer<typeof breakGlassReviewBody>;
export type BreakGlassListQuery = z.infer<typeof breakGlassListQuery>;
