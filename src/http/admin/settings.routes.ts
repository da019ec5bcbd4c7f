import Router from '@koa/router';
import type { Context } from 'koa';
import { orgSlug } from '../../admin/organization.schema.js';
import type { SettingsAdminService } from '../../admin/settings-admin.service.js';
import { notFound } from '../../lib/errors.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body } from '../middleware/body.js';

/** A slug that could never have been created names no organisation. */
function slugOf(ctx: Context): string {
  const parsed = orgSlug.safeParse(ctx.params.org);
  if (!parsed.success) throw notFound('no such organization');
  return parsed.data;
}

/** GET answers the effective values, PATCH merges into the layer (400 names the field). */
export function settingsRoutes(settings: SettingsAdminService): Router {
  const router = new Router();
  router.get('/settings', requireScope('idp:read'), async (ctx) => {
    ctx.body = await settings.getGlobal(caller(ctx));
  });
  router.patch('/settings', requireScope('admin'), async (ctx) => {
    ctx.body = await settings.patchGlobal(body(ctx), caller(ctx));
  });
  router.get('/organizations/:org/settings', requireScope('idp:read'), async (ctx) => {
    ctx.body = await settings.getOrganization(slugOf(ctx), caller(ctx));
  });
  router.patch('/organizations/:org/settings', requireScope('admin'), async (ctx) => {
    ctx.body = await settings.patchOrganization(slugOf(ctx), body(ctx), caller(ctx));
  });
  return router;
}
