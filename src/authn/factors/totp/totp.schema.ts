import { z } from '../../../lib/zod.js';

/** RFC 6238 with 6 digits, the only form authenticator apps show. */
export const totpCodeSchema = z.string().regex(/^[0-9]{6}$/);
