import { z } from '../../lib/zod.js';

/** `?limit=&offset=` of a list endpoint. */
export const page = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50), offset: z.coerce.number().int().min(0).max(1e6).default(0) });
