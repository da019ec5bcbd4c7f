import { z } from '../lib/zod.js';
import { PHONE_CHANNELS } from './providers/provider.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);
const secret = z.string().min(16).max(512);

/** Non-secret settings of each provider type; the secret (`auth_token`, `secret`) is sealed apart and never answered. */
export const twilioConfig = z
  .strictObject({
    account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be an account SID (AC + 32 hex digits)'),
    auth_token: secret,
    from: z
      .string()
      .regex(/^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$/, 'must be an E.164 number or an alphanumeric sender id')
      .optional(),
    messaging_service_sid: z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, 'must be a messaging service SID (MG + 32 hex digits)')
      .optional(),
    base_url: httpUrl.default('https://api.twilio.com'),
  })
  .refine((c) => c.from !== undefined || c.messaging_service_sid !== undefined, { message: 'needs from or messaging_service_sid', path: ['from'] });

export const webhookConfig = z.strictObject({ url: httpUrl, secret: secret.min(24) });

export const SECRET_FIELD = { twilio: 'auth_token', webhook: 'secret' } as const;

const common = {
  name: z.string().min(1).max(100),
  channels: z
    .array(z.enum(PHONE_CHANNELS))
    .min(1)
    .max(PHONE_CHANNELS.length)
    .refine((c) => new Set(c).size === c.length, 'must not repeat a channel'),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  enabled: z.boolean().optional(),
  organization: z.uuid().nullable().optional(),
};

export const createProviderBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('twilio'), ...common, config: twilioConfig }),
  z.strictObject({ type: z.literal('webhook'), ...common, config: webhookConfig }),
]);

/** The type and organisation are fixed once created; `config` fields given replace the stored ones (the secret too). */
export const updateProviderBody = z.strictObject({
  name: common.name.optional(),
  channels: common.channels.optional(),
  priority: common.priority.optional(),
  enabled: z.boolean().optional(),
  config: z.record(z.string().max(64), z.unknown()).optional(),
});

export const providerIdParams = z.object({ id: z.uuid() });

export const deliveriesQuery = z.strictObject({
  user_id: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export type CreateProviderInput = z.infer<typeof createProviderBody>;
export type UpdateProviderInput = z.infer<typeof updateProviderBody>;
