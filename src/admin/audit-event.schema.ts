import { z } from '../lib/zod.js';

const text = z.string().min(1).max(512);
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' });

/** What narrows a read of the audit trail; `type` is exact, or a prefix when it ends in `.*` (`authn.*`). */
export const auditFilterQuery = z.strictObject({
  type: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*(\.\*)?$/, 'an event type (a.b.c) or a prefix of one ending in .* (authn.*)')
    .max(200)
    .optional(),
  subject: text.optional(),
  actor: text.optional(),
  client_id: text.optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  /** At or after. */
  from: instant.optional(),
  /** Before. */
  to: instant.optional(),
});

export const auditListQuery = auditFilterQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(100).optional(),
});

export type AuditFilterQuery = z.infer<typeof auditFilterQuery>;
export type AuditListQuery = z.infer<typeof auditListQuery>;
