import { string as anyString } from 'zod';
import { hasControlCharacter } from '../lib/text.js';
import { z } from '../lib/zod.js';

/** The user fields an SP may receive as attributes: profile facts, never secrets or counters. */
export const SAML_USER_FIELDS = ['id', 'external_id', 'username', 'email', 'email_verified', 'phone', 'phone_verified', 'roles'] as const;

export const NAME_ID_FORMATS = ['persistent', 'email', 'transient'] as const;

// A document's lines and indentation are tab, newline and carriage return (XML 1.0 §2.2, §2.3); no other control character belongs in it.
const hasStrayControl = (s: string) => hasControlCharacter(s.replace(/[\t\n\r]/g, ''));

const metadata = anyString()
  .min(1)
  .refine((s) => !hasStrayControl(s), 'must not contain control characters other than tab and line breaks');

const attributeMapping = z.record(z.string().min(1).max(256), z.enum(SAML_USER_FIELDS)).refine((m) => Object.keys(m).length <= 50, 'at most 50 attributes');

const spFields = {
  attribute_mapping: attributeMapping.optional(),
  name_id_format: z.enum(NAME_ID_FORMATS).optional(),
  sign_assertions: z.boolean().optional(),
  encrypt_assertions: z.boolean().optional(),
  enabled: z.boolean().optional(),
};

export const createSamlSpBody = z.strictObject({ metadata, ...spFields });
export const updateSamlSpBody = z.strictObject({ metadata: metadata.optional(), ...spFields });

/** The service provider named in a path (`/saml/service-providers/{id}`). */
export const samlSpIdParams = z.object({ id: z.uuid() });

export type CreateSamlSpInput = z.infer<typeof createSamlSpBody>;
export type UpdateSamlSpInput = z.infer<typeof updateSamlSpBody>;
