import Router from '@koa/router';
import { z } from '../../lib/zod.js';
import { MAX_PASSWORD_LENGTH } from '../../authn/password.js';
import type { PasswordChange } from '../../authn/temporary-password.js';
import { IdpError } from '../../lib/errors.js';
import { body, validate } from '../middleware/body.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { InteractionKit } from './interaction-context.js';

// The page sends the password twice (`confirm_password`), a JSON client once; the csrf field is the kit's.
const passwordChangeBody = z
  .object({
    new_password: z.string().min(8, 'at least 8 characters').max(MAX_PASSWORD_LENGTH),
    confirm_password: z.string().max(MAX_PASSWORD_LENGTH).optional(),
  })
  .refine((b) => b.confirm_password === undefined || b.confirm_password === b.new_password, {
    message: 'the two passwords differ',
    path: ['confirm_password'],
  });

/** The page's words for what was wrong with the new password, and the field to fix ("field: what"). */
const PAGE_ERRORS: Record<string, string> = {
  'at least 8 characters': 'too_short',
  'the two passwords differ': 'mismatch',
  'must differ from the temporary password': 'same_as_temporary',
};
function pageError(description: string) {
  const [, field = 'new_password', what = description] = /^([a-z_]+): (.*)$/.exec(description) ?? [];
  return { errorKey: `login:password_change.error.${PAGE_ERRORS[what] ?? 'invalid'}`, field };
}

/** `POST /interaction/{uid}/password`: the new password of a login signed in with a temporary one. */
export function passwordChangeRoutes(deps: { kit: InteractionKit; change: PasswordChange; limiter: RateLimiter; loginPerIpPerMinute: number }): Router {
  const { kit } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  router.post('/password', async (ctx) => {
    const request = await kit.loadForPost(ctx, 'login');
    // Each try compares a password hash: counted with the address's sign-in attempts.
    await deps.limiter.hit(`login-ip:${ctx.ip}`, deps.loginPerIpPerMinute, 60);
    let outcome;
    try {
      const input = validate(passwordChangeBody, body(ctx));
      outcome = await deps.change.change({ uid: request.uid, newPassword: input.new_password, requestedAal: request.requestedAal, ...kit.meta(ctx) });
    } catch (err) {
      // A browser gets the form again with what was wrong; a JSON client gets the error.
      if (wantsJson(ctx) || !(err instanceof IdpError) || err.error !== 'invalid_request') throw err;
      ctx.status = 400;
      await kit.render(ctx, request, 'password-change', pageError(err.description));
      return;
    }
    await kit.respondOutcome(ctx, request, outcome);
  });

  return router;
}
