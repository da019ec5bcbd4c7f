import Router from '@koa/router';
import { profileInput, profileView, type ProfileService } from '../../authn/profile.service.js';
import { z } from '../../lib/zod.js';
import { body, validate } from '../middleware/body.js';
import { principalOf } from './authenticate.js';
import { changeContext } from './factors.routes.js';

// A same-origin HTML form sends its CSRF token in the body; the authentication checked it already.
const profileBody = profileInput.extend({ csrf: z.string().max(512).optional() }).strict();

/** The signed-in user's own name and language (`users.name`, `users.locale`). */
export function profileRoutes(deps: { profile: ProfileService }): Router {
  const router = new Router({ prefix: '/me' });

  router.get('/profile', (ctx) => {
    ctx.body = profileView(principalOf(ctx).user);
  });

  router.patch('/profile', async (ctx) => {
    const { name, locale } = validate(profileBody, body(ctx));
    ctx.body = profileView(await deps.profile.update(principalOf(ctx).user, { name, locale }, changeContext(ctx)));
  });

  return router;
}
