import Router from '@koa/router';
import { mfaAnalyticsQuery } from '../../analytics/analytics.schema.js';
import type { AnalyticsService } from '../../analytics/analytics.service.js';
import { validate } from '../middleware/body.js';
import { caller, requireScope } from '../middleware/admin-auth.js';

/** `GET /api/v1/analytics/mfa`: MFA adoption per calendar bucket (a read, like the audit trail it aggregates). */
export function analyticsRoutes(analytics: AnalyticsService): Router {
  const router = new Router({ prefix: '/analytics' });
  router.get('/mfa', requireScope('idp:read'), async (ctx) => {
    ctx.body = await analytics.mfa(validate(mfaAnalyticsQuery, ctx.query), caller(ctx));
  });
  return router;
}
