import Router from '@koa/router';
import type { Context } from 'koa';
import type { PasswordChangeService } from '../../authn/password-change.service.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../../authn/password.js';
import { z } from '../../lib/zod.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { principalOf } from './authenticate.js';
import { changeContext } from './factors.routes.js';

export const passwordBody = z.strictObject({
  current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  new_password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH),
  // A same-origin HTML form sends its CSRF token in the body; the authentication checked it already.
  csrf: z.string().max(512).optional(),
});

export interface PasswordRouteDeps {
  passwords: PasswordChangeService;
  limiter: RateLimiter;
  attemptsPerUserPerMinute: number;
}

/** Changes the signed-in user's password, `input` being a `passwordBody` once validated. */
export async function changePasswordIn(ctx: Context, deps: PasswordRouteDeps, input: unknown): Promise<void> {
  const { user } = principalOf(ctx);
  // A guessable input (the current password): rate limited per user before anything is compared.
  await deps.limiter.hit(`password-change:${user.id}`, deps.attemptsPerUserPerMinute, 60);
  const valid = validate(passwordBody, input);
  await deps.passwords.change(user, { currentPassword: valid.current_password, newPassword: valid.new_password }, changeContext(ctx));
}

/** The signed-in user changes their password; their other sessions and trusted devices end with it. */
export function passwordRoutes(deps: PasswordRouteDeps): Router {
  const router = new Router({ prefix: '/me' });

  router.post('/password', async (ctx) => {
    await changePasswordIn(ctx, deps, body(ctx));
    ctx.status = 204;
  });

  return router;
}
