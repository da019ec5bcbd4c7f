import { z } from '../lib/zod.js';
import { clientMfaPolicySchema } from '../policy/settings.js';

const uri = z.url().max(2048);

// Unknown fields are refused, so that no stored field (organisation, secret hash) can be set by naming it.
export const clientFields = z.strictObject({
  client_name: z.string().min(1).max(200).optional(),
  // What the sign-in and consent pages show of the client (OpenID Connect Dynamic Client Registration §2): an https logo, and its home page.
  logo_uri: z
    .url({ protocol: /^https$/, error: 'must be an https URL' })
    .max(2048)
    .optional(),
  client_uri: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .optional(),
  client_secret: z.string().min(32, 'must be at least 32 characters').max(256).optional(),
  // May be empty for a client_credentials-only client; the service requires one for the code flow.
  redirect_uris: z.array(uri).max(20).optional(),
  post_logout_redirect_uris: z.array(uri).max(20).optional(),
  grant_types: z
    .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials']))
    .min(1)
    .optional(),
  response_types: z.array(z.literal('code')).max(1).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']).optional(),
  backchannel_logout_uri: uri.optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  jwks_uri: uri.optional(),
  first_party: z.boolean().optional(),
  // This client's own refresh-token rotation; its organisation's `sessions.rotate_refresh_tokens` when absent.
  rotate_refresh_tokens: z.boolean().optional(),
  // Same keys and bounds as the settings API's `mfa` block, so a bad policy is refused here, not ignored at login.
  mfa_policy: clientMfaPolicySchema.nullable().optional(),
});

export const createClientBody = clientFields.extend({
  client_id: z
    .string()
    .regex(/^[A-Za-z0-9._~-]{1,128}$/, 'letters, digits and . _ ~ - only, at most 128')
    .optional(),
});

/** The client named in a path (`/clients/{clientId}`). */
export const clientIdParams = z.object({ clientId: z.string().min(1).max(256) });

export const updateClientBody = clientFields.extend({ rotate_secret: z.boolean().optional() });

export type CreateClientInput = z.infer<typeof createClientBody>;
export type UpdateClientInput = z.infer<typeof updateClientBody>;
