import { z } from '../lib/zod.js';

/** Same slug rule as `user.organization`, so every slug a user can name can be created. */
export const orgSlug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'lower-case letters, digits and inner dashes, at most 64');

export const createOrganizationBody = z
  .object({
    slug: orgSlug,
    name: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export type CreateOrganizationInput = z.infer<typeof createOrganizationBody>;
