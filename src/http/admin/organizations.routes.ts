import Router from '@koa/router';
import { createOrganizationBody, orgSlug } from '../../admin/organization.schema.js';
import type { OrganizationService } from '../../admin/organization.service.js';
import { notFound } from '../../lib/errors.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';

export function organizationRoutes(organizations: OrganizationService): Router {
  const router = new Router({ prefix: '/organizations' });
  router.post('/', requireScope('admin'), async (ctx) => {
    ctx.status = 201;
    ctx.body = { organization: await organizations.create(validate(createOrganizationBody, body(ctx)), caller(ctx)) };
  });
  router.get('/:org', requireScope('idp:read'), async (ctx) => {
    const slug = orgSlug.safeParse(ctx.params.org);
    if (!slug.success) throw notFound('no such organization');
    ctx.body = { organization: await organizations.get(slug.data, caller(ctx)) };
  });
  return router;
}
