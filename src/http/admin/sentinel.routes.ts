import Router from '@koa/router';
import type { SentinelService } from '../../admin/sentinel.service.js';
import type { ApiKeyRow } from '../../store/database.js';
import { isIpAddress } from '../../risk/ip.js';
import { USER_AGENT_MAX } from '../../risk/user-agent.js';
import { z } from '../../lib/zod.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';

const discoverBody = z
  .object({
    sentinel: z
      .object({
        id: z.string().min(1).max(255),
        context: z
          .object({
            ip: z.string().max(64).refine(isIpAddress, 'must be an IPv4 or IPv6 address'),
            ua: z.string().max(USER_AGENT_MAX),
            user_id: z.string().min(1).max(255).optional(),
          })
          .strict(),
      })
      .strict(),
  })
  .strict();

export interface SentinelRouteDeps {
  sentinel: SentinelService;
  limiter: RateLimiter;
  /** Assessments per API key per minute. */
  perKeyPerMinute: number;
}

/** `POST /sentinel/discover`: the risk engine's verdict on a platform's sign-in attempt. */
export function sentinelRoutes(deps: SentinelRouteDeps): Router {
  const router = new Router();
  router.post('/sentinel/discover', requireScope('sentinel:write'), async (ctx) => {
    await deps.limiter.hit(`sentinel:${(ctx.state.apiKey as ApiKeyRow).prefix}`, deps.perKeyPerMinute, 60);
    const { sentinel } = validate(discoverBody, body(ctx));
    const { context } = sentinel;
    const assessment = await deps.sentinel.discover({ id: sentinel.id, ip: context.ip, userAgent: context.ua, userId: context.user_id }, caller(ctx));
    ctx.set('Cache-Control', 'no-store');
    if (assessment.recommendation === 'deny') {
      ctx.status = 403;
      ctx.body = { error: 'High risk detection', error_description: 'the sign-in attempt was assessed as too risky to allow', risk_score: assessment.score };
      return;
    }
    ctx.body = { status: 'authorized', risk_score: assessment.score, recommendation: assessment.recommendation };
  });
  return router;
}
