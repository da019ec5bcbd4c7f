import { z } from '../../lib/zod.js';
import { MAX_PASSWORD_LENGTH } from '../../authn/password.js';

export const loginBody = z.object({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/** The password given again inside an interaction: the account is the session's, never named by the browser. */
export const reauthBody = loginBody.pick({ password: true });

export const uidParam = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
