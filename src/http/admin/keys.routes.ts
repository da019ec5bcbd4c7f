import Router from '@koa/router';
import { assertReachesAll } from '../../admin/changed-by.js';
import { KEY_KINDS, type SigningKeysService } from '../../admin/signing-keys.service.js';
import { z } from '../../lib/zod.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';

const rotateBody = z.strictObject({
  kind: z.enum(KEY_KINDS).default('oidc'),
  overlap_days: z.number().int().min(0).max(365).optional(),
});

/** The signing keys (OIDC and SAML): their public facts, and rotation. They belong to no one organisation. */
export function signingKeyRoutes(keys: SigningKeysService): Router {
  const router = new Router({ prefix: '/keys' });
  router.get('/', requireScope('idp:read'), async (ctx) => {
    ctx.body = await keys.list();
  });
  router.post('/rotate', requireScope('admin'), async (ctx) => {
    const { kind, overlap_days } = validate(rotateBody, body(ctx));
    const by = caller(ctx);
    assertReachesAll(by, 'rotate signing keys');
    const kid = kind === 'oidc' ? await keys.rotateOidc(by, overlap_days) : await keys.rotateSaml(by, overlap_days);
    ctx.status = 201;
    ctx.body = { key: await keys.find(kind, kid) };
  });
  return router;
}
