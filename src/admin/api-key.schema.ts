import { z } from '../lib/zod.js';
import { API_SCOPES } from './api-key.service.js';

const name = z.string().trim().min(1).max(200);
const scopes = z
  .array(z.enum(API_SCOPES))
  .min(1)
  .max(API_SCOPES.length)
  .refine((s) => new Set(s).size === s.length, 'must not repeat a scope');

export const createApiKeyBody = z.strictObject({
  name,
  scopes,
  organization_id: z.uuid().nullable().optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

export const updateApiKeyBody = z.strictObject({ name: name.optional(), scopes: scopes.optional() });

/** The key named in a path (`/api-keys/{id}`). */
export const apiKeyIdParams = z.object({ id: z.uuid() });

export type CreateApiKeyInput = z.infer<typeof createApiKeyBody>;
export type UpdateApiKeyInput = z.infer<typeof updateApiKeyBody>;
