import { z } from '../../lib/zod.js';

/** The body of a send: which channel, which of the account's destinations; a browser form adds its csrf field. */
export const sendBody = z.object({
  channel: z.enum(['sms', 'voice', 'email']),
  destination_id: z.uuid(),
  /** The user says the last code never came: a resend, under the same interval as any other. */
  didNotReceiveCode: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
});

/** Six digits, the only form a sent code has. */
export const otpCodeSchema = z.string().regex(/^[0-9]{6}$/);
