import Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type { AuditTrailService } from '../../admin/audit-trail.service.js';
import { trustedDeviceView } from '../../admin/trusted-device.view.js';
import { profileInput, profileView, type ProfileService } from '../../authn/profile.service.js';
import { MIN_PASSWORD_LENGTH } from '../../authn/password.js';
import { DEVICE_COOKIE } from '../../authn/trusted-device.service.js';
import { LOCALES } from '../../i18n/i18n.js';
import type { Pages } from '../../i18n/pages.js';
import type { Clock } from '../../lib/clock.js';
import { z } from '../../lib/zod.js';
import type { TrustedContactService } from '../../recovery/trusted-contacts.service.js';
import { body, validate } from '../middleware/body.js';
import { principalOf } from '../self-service/authenticate.js';
import { revokeDeviceIn } from '../self-service/devices.routes.js';
import { changeContext } from '../self-service/factors.routes.js';
import { changePasswordIn } from '../self-service/password.routes.js';
import type { SelfServiceRouteDeps } from '../self-service/self-service.routes.js';
import { revokeSessionIn, userRevoker } from '../self-service/sessions.routes.js';
import { recentActivity } from './activity.js';
import { createConsole } from './console.js';
import { securityRoutes } from './security.routes.js';
import { signInRoutes, type SignInDeps } from './sign-in.js';
import { stepUpRoutes } from './step-up.routes.js';

export interface AccountConsoleDeps extends SelfServiceRouteDeps {
  pages: Pages;
  signIn: Omit<SignInDeps, 'pages'>;
  profile: ProfileService;
  contacts: TrustedContactService;
  auditTrail: Pick<AuditTrailService, 'list'>;
  clock: Clock;
}

// Forms post their CSRF token beside their fields (the authentication checked it); parsing drops it.
const profileForm = profileInput.extend({ locale: z.enum(['', ...LOCALES]).optional() });
const passwordForm = z.object({ current_password: z.string(), new_password: z.string() });
/** Session, device and client ids come from our own pages; the services judge them (another user's is the same 404). */
const idParam = z.string().min(1).max(256);

/**
 * The account console at `/account`: server-rendered pages over the self-service functions, with
 * the same session, CSRF and freshness rules as the API. Works without JavaScript except for
 * creating a passkey (WebAuthn).
 */
export function accountRoutes(deps: AccountConsoleDeps): Middleware {
  const view = createConsole({ pages: deps.pages, auth: deps.auth, signOut: `${deps.signIn.issuer.replace(/\/$/, '')}/session/end` });
  const { factors } = deps;
  const signIn = signInRoutes({ ...deps.signIn, pages: deps.pages });

  const signedIn = new Router({ prefix: '/account' });
  signedIn.use(view.guard);

  signedIn.get(
    '/',
    view.page('overview', async (ctx) => {
      const { user, sessionUid } = principalOf(ctx);
      const [summary, devices, sessions, activity] = await Promise.all([
        factors.summary(user.id),
        deps.devices.list(user.id),
        deps.sessions.sessions(user, sessionUid),
        recentActivity(deps.auditTrail, user, deps.clock.now(), 5),
      ]);
      return { summary, devices: devices.length, sessions: sessions.length, activity };
    }),
  );

  signedIn.get(
    '/profile',
    view.page('profile', async (ctx) => ({ profile: profileView(principalOf(ctx).user), minPassword: MIN_PASSWORD_LENGTH })),
  );
  signedIn.post(
    '/profile',
    view.act('profile', async (ctx) => {
      const { locale, ...rest } = validate(profileForm, body(ctx));
      await deps.profile.update(principalOf(ctx).user, { ...rest, ...(locale !== undefined ? { locale: locale || null } : {}) }, changeContext(ctx));
      return 'profile_saved';
    }),
  );
  signedIn.post(
    '/password',
    view.act('profile', async (ctx) => {
      const input = validate(passwordForm, body(ctx));
      await changePasswordIn(ctx, { passwords: deps.passwords, limiter: deps.limiter, attemptsPerUserPerMinute: deps.codesPerUserPerMinute }, input);
      return 'password_changed';
    }),
  );

  signedIn.get(
    '/devices',
    view.page('devices', async (ctx) => {
      const { user } = principalOf(ctx);
      const current = await deps.devices.identify(user.id, ctx.cookies.get(DEVICE_COOKIE));
      return { devices: (await deps.devices.list(user.id)).map((d) => trustedDeviceView(d, current?.id ?? '')) };
    }),
  );
  signedIn.post(
    '/devices/:id/revoke',
    view.act('devices', async (ctx) => {
      await revokeDeviceIn(ctx, deps.devices, validate(idParam, ctx.params.id));
      return 'device_revoked';
    }),
  );

  signedIn.get(
    '/sessions',
    view.page('sessions', async (ctx) => {
      const { user, sessionUid } = principalOf(ctx);
      return { sessions: await deps.sessions.sessions(user, sessionUid) };
    }),
  );
  signedIn.post(
    '/sessions/:id/revoke',
    view.act('sessions', async (ctx) => {
      await revokeSessionIn(ctx, deps, validate(idParam, ctx.params.id), { keepAppAccess: false });
      return 'session_revoked';
    }),
  );
  signedIn.post(
    '/sessions/revoke-others',
    view.act('sessions', async (ctx) => {
      const { user, sessionUid } = principalOf(ctx);
      const others = (await deps.sessions.sessions(user, sessionUid)).filter((s) => !s.current);
      for (const s of others) await revokeSessionIn(ctx, deps, s.id, { keepAppAccess: false });
      return 'sessions_revoked';
    }),
  );

  signedIn.get(
    '/apps',
    view.page('apps', async (ctx) => ({ apps: await deps.sessions.appAccess(principalOf(ctx).user) })),
  );
  signedIn.post(
    '/apps/:clientId/revoke',
    view.act('apps', async (ctx) => {
      await deps.sessions.revokeAppAccess(principalOf(ctx).user, validate(idParam, ctx.params.clientId), userRevoker(ctx));
      return 'app_revoked';
    }),
  );

  signedIn.get(
    '/activity',
    view.page('activity', async (ctx) => ({ activity: await recentActivity(deps.auditTrail, principalOf(ctx).user, deps.clock.now(), 100) })),
  );

  const security = securityRoutes(view, deps);
  const stepUp = stepUpRoutes(view, deps);
  return compose([signIn.routes(), signedIn.routes(), security.routes(), stepUp.routes(), signedIn.allowedMethods()] as Middleware[]);
}
