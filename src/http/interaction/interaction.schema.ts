import { z } from '../../lib/zod.js';
import { MAX_PASSWORD_LENGTH } from '../../authn/password.js';

const credentials = z.object({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/** The password step; `remember_me` ("Keep me signed in": JSON true, or the form's checkbox "on") counts only where the organisation allows it. */
export const loginBody = credentials.extend({
  remember_me: z.union([z.boolean(), z.enum(['on', 'true', 'false']).transform((v) => v !== 'false')]).optional(),
});

/** The password given again inside an interaction: the account is the session's, never named by the browser. */
export const reauthBody = credentials.pick({ password: true });

export const uidParam = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
