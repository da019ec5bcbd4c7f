import { z } from '../lib/zod.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../authn/password.js';
import { LOCALES } from '../i18n/i18n.js';

const externalId = z.string().min(1).max(255);
const username = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s\p{Cc}\p{Cf}]+$/u, 'no spaces, control or invisible characters');
const email = z.email().max(320);
const phone = z.string().regex(/^\+[1-9]\d{6,14}$/, 'E.164 format, e.g. +14155550100');
const roles = z.array(z.string().regex(/^[a-z0-9_.:-]{1,64}$/)).max(50);
const organization = z.string().regex(/^[a-z0-9-]{1,64}$/);
/** The name the person goes by (e-mails greet them by it); null clears it. */
const personName = z.string().trim().min(1).max(200).nullable();
/** The language the person reads when a request does not say one; null leaves it to the organisation's default. */
const locale = z.enum(LOCALES).nullable();

// Unknown keys (password_hash, mfa_enrolled, is_admin, status, ...) are refused: no mass assignment.
export const createUserBody = z.strictObject({
  user: z.strictObject({
    external_id: externalId,
    username: username.optional(),
    email: email.optional(),
    phone: phone.optional(),
    password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH).optional(),
    roles: roles.optional(),
    organization: organization.optional(),
    email_verified: z.boolean().optional(),
    phone_verified: z.boolean().optional(),
    name: personName.optional(),
    locale: locale.optional(),
  }),
});

/**
 * What an administrator may change of a user: the create API's profile fields, and `status`
 * between active and disabled (a lock is the lockout's, and the unlock API's, business). No
 * password (the temporary-password API issues one), hash, factor or counter can be named.
 */
export const updateUserBody = z.strictObject({
  user: z
    .strictObject({
      external_id: externalId.optional(),
      username: username.optional(),
      email: email.nullable().optional(),
      phone: phone.nullable().optional(),
      roles: roles.optional(),
      email_verified: z.boolean().optional(),
      phone_verified: z.boolean().optional(),
      status: z.enum(['active', 'disabled']).optional(),
      name: personName.optional(),
      locale: locale.optional(),
    })
    .refine((u) => Object.keys(u).length > 0, 'names nothing to change'),
});

/** A name to search by: exact, or a prefix when it ends in `*` (case-insensitive either way). */
const nameFilter = z
  .string()
  .min(1)
  .max(320)
  .regex(/^[^*]+\*?$/, 'a name, or its beginning followed by *');

export const listUsersQuery = z.strictObject({
  username: nameFilter.optional(),
  email: nameFilter.optional(),
  external_id: nameFilter.optional(),
  /** Any of the three names. */
  q: nameFilter.optional(),
  status: z.enum(['active', 'locked', 'disabled']).optional(),
  organization: organization.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(100).optional(),
});

/** Every method, or one, by its registered name (checked against the registry by the service). */
export const resetFactorsBody = z.strictObject({ method: z.string().min(1).max(64).optional() });

/** The server makes the temporary password: a body that names anything (a password of the admin's choosing) is refused. */
export const temporaryPasswordBody = z.strictObject({});

export const profileQuery = z.object({ externalUserId: z.string().min(1).max(255) });

export type CreateUserInput = z.infer<typeof createUserBody>['user'];
export type UpdateUserInput = z.infer<typeof updateUserBody>['user'];
export type ListUsersQuery = z.infer<typeof listUsersQuery>;
