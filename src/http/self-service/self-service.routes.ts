import Router from '@koa/router';
import type { TrustedDeviceService } from '../../authn/trusted-device.service.js';
import { selfServiceAuth, type SelfServiceAuthDeps } from './authenticate.js';
import { deviceRoutes } from './devices.routes.js';
import { factorRoutes, type FactorRouteDeps } from './factors.routes.js';

export interface SelfServiceRouteDeps extends FactorRouteDeps {
  auth: SelfServiceAuthDeps;
  devices: TrustedDeviceService;
}

/** `/api/v1/mfa/…` and `/api/v1/me/…`: the signed-in user's own account, never an API key's. */
export function selfServiceRoutes(deps: SelfServiceRouteDeps): Router {
  const router = new Router({ prefix: '/api/v1' });
  router.use(selfServiceAuth(deps.auth));
  router.use(factorRoutes(deps).routes(), deviceRoutes(deps).routes());
  return router;
}
