import { z } from '../lib/zod.js';

export const recoveryStartBody = z
  .object({
    username_or_email: z.string().trim().min(1).max(320),
    /** `email` (a link), `phone` (a code by SMS), or approvals by the user's `trusted_contacts`. */
    method: z.enum(['email', 'phone', 'trusted_contacts']).default('email'),
  })
  .strict();

export const recoveryConfirmBody = z.union([
  z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).strict(),
  z.object({ code: z.string().regex(/^\d{8}$/) }).strict(),
]);

export const recoveryCancelBody = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).strict();

/** The token the start answered with: it names who may enrol once the request is ready. */
export const recoveryEnrolBody = z.object({ request_token: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).passthrough();

export const trustedContactsBody = z.object({ user_ids: z.array(z.uuid()).max(3) }).strict();

export const recoveryApprovalBody = z.object({ approve: z.boolean() }).strict();

export type RecoveryStartInput = z.infer<typeof recoveryStartBody>;
