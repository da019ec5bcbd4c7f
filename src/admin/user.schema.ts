import { z } from '../lib/zod.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../authn/password.js';

// Unknown keys (password_hash, mfa_enrolled, is_admin, status, ...) are refused: no mass assignment.
export const createUserBody = z.strictObject({
  user: z.strictObject({
    external_id: z.string().min(1).max(255),
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\s\p{Cc}\p{Cf}]+$/u, 'no spaces, control or invisible characters')
      .optional(),
    email: z.email().max(320).optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'E.164 format, e.g. +14155550100')
      .optional(),
    password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH).optional(),
    roles: z
      .array(z.string().regex(/^[a-z0-9_.:-]{1,64}$/))
      .max(50)
      .optional(),
    organization: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/)
      .optional(),
    email_verified: z.boolean().optional(),
    phone_verified: z.boolean().optional(),
  }),
});

export const profileQuery = z.object({ externalUserId: z.string().min(1).max(255) });

export type CreateUserInput = z.infer<typeof createUserBody>['user'];
