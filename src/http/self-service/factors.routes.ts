import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import type { Factor } from '../../authn/factor.js';
import type { ChangeContext, FactorManagementService } from '../../authn/self-service.service.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { principalOf } from './authenticate.js';

// The code is checked by the factor, so that every malformed value is answered like a wrong one.
const codeBody = z.object({ code: z.unknown() });

export interface FactorRouteDeps {
  factors: FactorManagementService;
  /** The registered methods: each removable one gets DELETE /mfa/{manage path}. */
  plugins: readonly Factor[];
  limiter: RateLimiter;
  /** Shown by authenticator apps next to the account. */
  issuerName: string;
  codesPerUserPerMinute: number;
}

export const changeContext = (ctx: Context): ChangeContext => {
  const { user, sessionUid } = principalOf(ctx);
  return { actor: `user:${user.id}`, via: 'self_service', ip: ctx.ip, requestId: ctx.state.requestId, keepSessionUid: sessionUid };
};

/** The signed-in user's own factors (self-service management). */
export function factorRoutes(deps: FactorRouteDeps): Router {
  const { factors, limiter } = deps;
  const router = new Router({ prefix: '/mfa' });

  /** Every change needs a fresh sign-in (first factor) or a fresh second factor (step-up). */
  async function fresh(ctx: Context) {
    const p = principalOf(ctx);
    await factors.assertFresh(p.user, await p.freshness());
    return p.user;
  }

  router.get('/', async (ctx) => {
    const s = await factors.summary(principalOf(ctx).user.id);
    ctx.body = { methods: s.methods, totp: { enrolled: s.totp, pending: s.totpPending }, backup_codes: { remaining: s.backupCodes } };
  });

  router.post('/totp/enroll', async (ctx) => {
    await factors.assertMethodAllowed(principalOf(ctx).user, 'totp');
    const user = await fresh(ctx);
    const e = await factors.beginTotp(user, user.email ?? user.username ?? user.externalId, deps.issuerName, changeContext(ctx));
    ctx.body = { secret: e.secret, qr_code_uri: e.otpauthUri, qr_code_svg: e.qrSvg, qr_code_png: e.qrPng };
  });

  router.post('/totp/confirm', async (ctx) => {
    const { code } = validate(codeBody, body(ctx));
    const p = principalOf(ctx);
    await limiter.hit(`mfa-code:${p.user.id}`, deps.codesPerUserPerMinute, 60);
    const user = await fresh(ctx);
    const event = await factors.confirmTotp(user, code, changeContext(ctx));
    // A first valid code just proved the new factor in this session.
    await factors.recordMfaProof(p.sessionUid, event);
    ctx.body = { status: 'success', method: 'totp' };
  });

  for (const { paths, descriptor: { method } } of deps.plugins.filter((f) => f.remove !== undefined)) {
    router.delete(`/${paths.manage}`, async (ctx) => {
      await factors.removeFactor(await fresh(ctx), method, changeContext(ctx));
      ctx.status = 204;
    });
  }

  router.get('/backup-codes', async (ctx) => {
    ctx.body = { remaining: await factors.remainingBackupCodes(principalOf(ctx).user.id) };
  });

  router.post('/backup-codes', async (ctx) => {
    await factors.assertMethodAllowed(principalOf(ctx).user, 'backup_code');
    const codes = await factors.regenerateBackupCodes(await fresh(ctx), changeContext(ctx));
    ctx.body = { backup_codes: codes, remaining: codes.length };
  });

  /** Step-up without leaving the page: a valid code makes the session fresh for factor changes. */
  router.post('/verify', async (ctx) => {
    const { code } = validate(codeBody, body(ctx));
    const p = principalOf(ctx);
    await limiter.hit(`mfa-code:${p.user.id}`, deps.codesPerUserPerMinute, 60);
    const { method, event } = await factors.verifyCode(p.user, code, changeContext(ctx), { confirmPending: false });
    await factors.stepUp(p.user, p.sessionUid, event, changeContext(ctx));
    ctx.body = { status: 'success', method };
  });

  return router;
}
