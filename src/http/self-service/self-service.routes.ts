import Router from '@koa/router';
import type { SessionAdminService } from '../../admin/session-admin.service.js';
import type { PasswordChangeService } from '../../authn/password-change.service.js';
import type { SsoSessions } from '../../authn/sso-session.js';
import type { TrustedDeviceService } from '../../authn/trusted-device.service.js';
import { selfServiceAuth, type SelfServiceAuthDeps } from './authenticate.js';
import { deviceRoutes } from './devices.routes.js';
import { destinationRoutes } from './destinations.routes.js';
import type { DestinationService } from '../../authn/one-time-codes/destinations.service.js';
import { factorRoutes, type FactorRouteDeps } from './factors.routes.js';
import { passwordRoutes } from './password.routes.js';
import type { ProfileService } from '../../authn/profile.service.js';
import { profileRoutes } from './profile.routes.js';
import { sessionRoutes } from './sessions.routes.js';

export interface SelfServiceRouteDeps extends FactorRouteDeps {
  auth: SelfServiceAuthDeps;
  devices: TrustedDeviceService;
  sessions: SessionAdminService;
  sso: Pick<SsoSessions, 'forget'>;
  passwords: PasswordChangeService;
  destinations: DestinationService;
  profile: ProfileService;
}

/** `/api/v1/mfa/…` and `/api/v1/me/…`: the signed-in user's own account, never an API key's. */
export function selfServiceRoutes(deps: SelfServiceRouteDeps): Router {
  const router = new Router({ prefix: '/api/v1' });
  router.use(selfServiceAuth(deps.auth));
  router.use(factorRoutes(deps).routes(), deviceRoutes(deps).routes(), destinationRoutes(deps).routes());
  router.use(
    sessionRoutes(deps).routes(),
    passwordRoutes({ passwords: deps.passwords, limiter: deps.limiter, attemptsPerUserPerMinute: deps.codesPerUserPerMinute }).routes(),
    profileRoutes(deps).routes(),
  );
  return router;
}
