import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import type { MfaPlatformService, UserRef } from '../../admin/mfa-platform.service.js';
import type { Factor } from '../../authn/factor.js';
import { profileQuery } from '../../admin/user.schema.js';
import { caller, requireScope } from '../middleware/admin-auth.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';

// A colon would split the otpauth label ("issuer:account") in the wrong place.
const otpBody = z.strictObject({
  otp: z.strictObject({
    issuer_name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[^:]+$/, 'must not contain ":"'),
    account_name: z.string().trim().min(1).max(255),
  }),
});
// The code is checked by the factor itself, so that every malformed value also counts as a failure.
const verifyBody = z.strictObject({ otp: z.strictObject({ id: z.string().min(1).max(255), code: z.unknown() }) });

export interface MfaPlatformRouteDeps {
  platform: MfaPlatformService;
  /** The registered methods: those that manage credentials one by one get admin routes for them. */
  plugins: readonly Factor[];
  limiter: RateLimiter;
  /** Code checks per user per minute, whatever the lockout says (slows guessing across keys and nodes). */
  verifyPerUserPerMinute: number;
}

const external = (ctx: Context) => validate(profileQuery, ctx.query).externalUserId;

/**
 * Platform MFA API plus the admin's unlock and trusted-device revocation.
 * Trusted devices are addressed as `/users/{id}/devices` (the IdP's user id) or as
 * `/users/devices?externalUserId=…` (the platform's id).
 */
export function mfaPlatformRoutes(deps: MfaPlatformRouteDeps): Router {
  const { platform } = deps;
  const router = new Router();

  // Minting a factor for a user lets the caller pass that user's MFA: a scope of its own, audited with the key.
  router.post('/users/otp', requireScope('idp:mfa:write'), async (ctx) => {
    const externalUserId = external(ctx);
    const { otp } = validate(otpBody, body(ctx));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await platform.startTotp(externalUserId, otp, caller(ctx));
  });

  router.post('/otp/verify', requireScope('idp:write'), async (ctx) => {
    const { otp } = validate(verifyBody, body(ctx));
    const by = caller(ctx);
    // Counted per organisation reached, so that one organisation's key cannot spend another's budget.
    await deps.limiter.hit(`otp-verify:${by.organizationId ?? '*'}:${otp.id}`, deps.verifyPerUserPerMinute, 60);
    ctx.body = await platform.verify(otp.id, otp.code, by);
  });

  router.post('/users/backup-codes', requireScope('idp:mfa:write'), async (ctx) => {
    const externalUserId = external(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await platform.backupCodes(externalUserId, caller(ctx));
  });

  router.post('/users/unlock', requireScope('idp:write'), async (ctx) => {
    ctx.body = await platform.unlock(external(ctx), caller(ctx));
  });

  const byId = (ctx: Context): UserRef => ({ id: ctx.params.id! });
  const byExternal = (ctx: Context): UserRef => ({ externalUserId: external(ctx) });
  // A method whose credentials are managed one by one (passkeys): admins list and remove a user's.
  for (const plugin of deps.plugins) {
    const managed = plugin.selfService?.credentials;
    if (!managed) continue;
    const { method } = plugin.descriptor;
    for (const [path, ref] of [
      [`/users/${managed.collection}`, byExternal],
      [`/users/:id/${managed.collection}`, byId],
    ] as const) {
      router.get(path, requireScope('idp:read'), async (ctx) => {
        ctx.body = await platform.listCredentials(ref(ctx), method, managed.collection, caller(ctx));
      });
      router.delete(`${path}/:credentialId`, requireScope('idp:write'), async (ctx) => {
        await platform.removeCredential(ref(ctx), method, ctx.params.credentialId!, caller(ctx));
        ctx.status = 204;
      });
    }
  }
  // A method whose entry administrators may read (which security questions a user set).
  for (const plugin of deps.plugins.filter((p) => p.selfService?.shownToAdmins)) {
    const { method } = plugin.descriptor;
    for (const [path, ref] of [
      [`/users/${plugin.paths.manage}`, byExternal],
      [`/users/:id/${plugin.paths.manage}`, byId],
    ] as const) {
      router.get(path, requireScope('idp:read'), async (ctx) => {
        ctx.body = await platform.status(ref(ctx), method, caller(ctx));
      });
    }
  }
  for (const [path, ref] of [
    ['/users/devices', byExternal],
    ['/users/:id/devices', byId],
  ] as const) {
    router.get(path, requireScope('idp:read'), async (ctx) => {
      ctx.body = await platform.listDevices(ref(ctx), caller(ctx));
    });
    router.delete(`${path}/:deviceId`, requireScope('idp:write'), async (ctx) => {
      await platform.revokeDevice(ref(ctx), ctx.params.deviceId!, caller(ctx));
      ctx.status = 204;
    });
  }
  return router;
}
