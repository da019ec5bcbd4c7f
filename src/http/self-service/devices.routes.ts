import Router from '@koa/router';
import type { Context } from 'koa';
import { trustedDeviceView } from '../../admin/trusted-device.view.js';
import { DEVICE_COOKIE, type TrustedDeviceService } from '../../authn/trusted-device.service.js';
import { notFound } from '../../lib/errors.js';
import { UUID } from '../../store/repositories/account.repository.js';
import { principalOf } from './authenticate.js';

/** Ends one of the user's trusted devices; another user's device, or none, is the same 404. */
export async function revokeDeviceIn(ctx: Context, devices: Pick<TrustedDeviceService, 'revoke'>, id: string): Promise<void> {
  const { user } = principalOf(ctx);
  if (!UUID.test(id) || !(await devices.revoke(user.id, id, `user:${user.id}`))) throw notFound('no such trusted device');
}

/** Who is signed in (and the CSRF token for cookie sessions), and the user's trusted devices. */
export function deviceRoutes(deps: { devices: TrustedDeviceService }): Router {
  const { devices } = deps;
  const router = new Router({ prefix: '/me' });

  router.get('/', async (ctx) => {
    const p = principalOf(ctx);
    ctx.body = {
      id: p.user.id,
      username: p.user.username,
      email: p.user.email,
      auth_time: p.authTime,
      amr: p.amr,
      authenticated_by: p.via,
      ...(p.csrfToken ? { csrf_token: p.csrfToken } : {}),
    };
  });

  router.get('/devices', async (ctx) => {
    const { user } = principalOf(ctx);
    const current = await devices.identify(user.id, ctx.cookies.get(DEVICE_COOKIE));
    ctx.body = { devices: (await devices.list(user.id)).map((d) => trustedDeviceView(d, current?.id ?? '')) };
  });

  router.delete('/devices/:id', async (ctx) => {
    await revokeDeviceIn(ctx, devices, ctx.params.id!);
    ctx.status = 204;
  });

  return router;
}
