import { z } from '../lib/zod.js';

/** What a subscription can ask for: the auth events, and the messages of webhook-driven MFA steps. */
export const WEBHOOK_EVENTS = [
  'login.succeeded',
  'login.failed',
  'mfa.enrolled',
  'device.trusted',
  'account.locked',
  'step_up.completed',
  'auth.step',
  'auth.completed',
  'auth.failed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const fields = {
  url: z.string().min(1).max(2048),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1)
    .max(WEBHOOK_EVENTS.length)
    .refine((e) => new Set(e).size === e.length, 'must not repeat an event'),
  description: z.string().trim().max(200).nullable(),
  enabled: z.boolean(),
};

export const createWebhookBody = z.strictObject({
  ...fields,
  description: fields.description.optional(),
  enabled: fields.enabled.optional(),
  /** The organisation whose events it receives; a key bound to an organisation may only name its own. Absent: the key's, or every one. */
  organization: z.uuid().optional(),
});

/** A subscription's organisation is fixed once it is created. */
export const updateWebhookBody = z.strictObject({
  url: fields.url.optional(),
  events: fields.events.optional(),
  description: fields.description.optional(),
  enabled: fields.enabled.optional(),
});

export const webhookIdParams = z.object({ id: z.uuid() });
export const deliveryIdParams = z.object({ id: z.uuid(), deliveryId: z.uuid() });
export const deliveryListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(200).optional(),
});

export type CreateWebhookInput = z.infer<typeof createWebhookBody>;
export type UpdateWebhookInput = z.infer<typeof updateWebhookBody>;
