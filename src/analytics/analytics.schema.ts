import { z } from '../lib/zod.js';

const day = z.iso.date({ message: 'must be an ISO 8601 date (YYYY-MM-DD)' });

/** `GET /api/v1/analytics/mfa`: whole days in UTC, both ends included. */
export const mfaAnalyticsQuery = z.strictObject({
  from: day.optional(),
  to: day.optional(),
  interval: z.enum(['day', 'week', 'month']).default('day'),
  organization: z.uuid({ message: 'must be an organization id' }).optional(),
});

export type MfaAnalyticsQuery = z.infer<typeof mfaAnalyticsQuery>;
