import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import mount from 'koa-mount';
import { projectRoot } from './config.js';
import type { Container } from './container.js';
import { assetRoutes } from './http/assets/assets.routes.js';
import { apiKeyRoutes } from './http/admin/api-keys.routes.js';
import { clientRoutes } from './http/admin/clients.routes.js';
import { signingKeyRoutes } from './http/admin/keys.routes.js';
import { samlServiceProviderRoutes } from './http/admin/saml-service-providers.routes.js';
import { mfaPlatformRoutes } from './http/admin/mfa-platform.routes.js';
import { organizationRoutes } from './http/admin/organizations.routes.js';
import { policyRuleRoutes } from './http/admin/policy-rules.routes.js';
import { sentinelRoutes } from './http/admin/sentinel.routes.js';
import { settingsRoutes } from './http/admin/settings.routes.js';
import { userRoutes } from './http/admin/users.routes.js';
import { userDestinationRoutes } from './http/admin/destinations.routes.js';
import { OTP_CHALLENGE_PATH } from './authn/one-time-codes/otp-factor.js';
import { userSessionRoutes } from './http/admin/user-sessions.routes.js';
import { createInteractionKit } from './http/interaction/interaction-context.js';
import { interactionRoutes } from './http/interaction/interaction.routes.js';
import { mfaRoutes } from './http/interaction/mfa.routes.js';
import { issuerLabel } from './authn/issuer-label.js';
import { passwordChangeRoutes } from './http/interaction/password-change.routes.js';
import { auditEventRoutes } from './http/admin/audit-events.routes.js';
import { analyticsRoutes } from './http/admin/analytics.routes.js';
import { breakGlassRoutes } from './http/admin/break-glass.routes.js';
import { deliveryProviderRoutes, deliveryStatusRoutes } from './http/admin/delivery.routes.js';
import { webhookRoutes } from './http/admin/webhooks.routes.js';
import { authStepRoutes } from './http/admin/auth-step.routes.js';
import { stepWebhookRoutes } from './http/interaction/step-webhook.routes.js';
import { apiKeyAuth } from './http/middleware/admin-auth.js';
import { auditWrites } from './http/middleware/audit-writes.js';
import { parseBodies } from './http/middleware/body.js';
import { errorHandler } from './http/middleware/error-handler.js';
import { noStore } from './http/middleware/no-store.js';
import { createRateLimiter } from './http/middleware/rate-limit.js';
import { requestContext } from './http/middleware/request-context.js';
import { securityHeaders } from './http/middleware/security-headers.js';
import { trustedProxies } from './http/middleware/trusted-proxies.js';
import { wellKnownCache } from './http/middleware/well-known-cache.js';
import { metricsRoutes, opsRoutes } from './http/ops/ops.routes.js';
import { samlRoutes } from './http/saml/saml.routes.js';
import { samlSloRoutes } from './http/saml/slo.routes.js';
import { selfServiceRoutes, type SelfServiceRouteDeps } from './http/self-service/self-service.routes.js';
import { selfServiceAuth } from './http/self-service/authenticate.js';
import { trustedContactRoutes } from './http/self-service/trusted-contacts.routes.js';
import { recoveryRoutes } from './http/recovery/recovery.routes.js';
import { recoveryRequestRoutes } from './http/admin/recovery-requests.routes.js';
import { promptRoutes } from './http/prompt/prompts.routes.js';
import { promptWebhookRoutes } from './http/admin/prompt-webhook.routes.js';
import { consoleAssets } from './http/admin-console/console-assets.js';
import { adminConsoleRoutes } from './http/admin-console/console.routes.js';
import { accountRoutes } from './http/account/account.routes.js';
import { createProfileService } from './authn/profile.service.js';

// Chart.js's standalone browser build sits beside its main entry (dist/).
const chartBundle = path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');
// The package's exports name no path to its browser bundle, hence from its main entry (script/index.js) up.
const webauthnBrowserBundle = path.join(path.dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist/bundle/index.umd.min.js');

/** Our routes first; whatever they do not match falls through to the provider mounted at the issuer path. */
export function buildApp(c: Container): Koa {
  const app = new Koa();
  app.proxy = c.config.trustedProxies.length > 0;
  app.maxIpsCount = 1;

  app.use(trustedProxies(c.config.trustedProxies));
  // The provider (mounted) and our own routes read its signed cookies through our context, hence with its keys.
  let keyedBy: object | undefined;
  app.use((_ctx, next) => {
    const provider = c.providers.current;
    if (provider !== keyedBy) {
      // only after a key rotation rebuilt the provider
      app.keys = provider.keys;
      keyedBy = provider;
    }
    return next();
  });
  app.use(requestContext(c.logger, c.metrics));
  app.use(securityHeaders());
  app.use(errorHandler(c.logger, c.pages));
  app.use(auditWrites(c.audit));

  const ops = opsRoutes(c.readiness).routes() as unknown as Middleware;
  const opsPaths = new Set(['/healthz', '/readyz']);
  app.use(async (ctx, next) => {
    await (opsPaths.has(ctx.path) ? ops(ctx, next) : next());
  });

  const assets = assetRoutes({
    'simplewebauthn-browser.js': { file: webauthnBrowserBundle, type: 'text/javascript; charset=utf-8' },
    'passkey.js': { file: path.join(projectRoot, 'assets', 'passkey.js'), type: 'text/javascript; charset=utf-8' },
    'mfa-step.js': { file: path.join(projectRoot, 'assets', 'mfa-step.js'), type: 'text/javascript; charset=utf-8' },
    'prompt.js': { file: path.join(projectRoot, 'assets', 'prompt.js'), type: 'text/javascript; charset=utf-8' },
    'prompt-login.js': { file: path.join(projectRoot, 'assets', 'prompt-login.js'), type: 'text/javascript; charset=utf-8' },
    'copy.js': { file: path.join(projectRoot, 'assets', 'copy.js'), type: 'text/javascript; charset=utf-8' },
    'idp.css': { file: path.join(projectRoot, 'assets', 'idp.css'), type: 'text/css; charset=utf-8' },
    'favicon.svg': { file: path.join(projectRoot, 'assets', 'favicon.svg'), type: 'image/svg+xml' },
    'chart.umd.js': { file: chartBundle, type: 'text/javascript; charset=utf-8' },
    ...consoleAssets(projectRoot),
    'account.css': { file: path.join(projectRoot, 'assets', 'account.css'), type: 'text/css; charset=utf-8' },
    'account-passkey.js': { file: path.join(projectRoot, 'assets', 'account-passkey.js'), type: 'text/javascript; charset=utf-8' },
  });
  app.use(async (ctx, next) => {
    await (ctx.path === '/assets' || ctx.path.startsWith('/assets/') ? assets(ctx, next) : next());
  });

  const kit = createInteractionKit({
    protocols: c.loginProtocols,
    csrf: c.csrf,
    pages: c.pages,
    relyingParty: c.relyingParty,
    mfa: c.mfa,
    issuer: c.config.issuer,
    offersRememberMe: (clientId) => c.sessionPolicy.offersRememberMe(clientId),
    makeRoom: (login, keep) => c.sessionPolicy.makeRoom(login, keep),
    destinations: {
      methods: c.factors.factors.filter((f) => f.paths.challenge === OTP_CHALLENGE_PATH).map((f) => f.descriptor.method),
      offered: (accountId, methods) => c.destinations.offered(accountId, methods),
    },
    runsInApp: (uid) => c.stepWebhooks.runsInApp(uid),
  });
  const limiter = createRateLimiter(c.rateLimitCounters);
  const interactions = interactionRoutes({ kit, login: c.login, mfa: c.mfa, config: c.config, limiter });
  const mfa = mfaRoutes({
    kit,
    mfa: c.mfa,
    factors: c.factors.factors,
    issuer: c.config.issuer,
    limiter,
    loginPerIpPerMinute: c.config.rateLimit.loginPerIpPerMinute,
    pages: c.pages,
    relyingParty: c.relyingParty,
  });
  const stepWebhooks = stepWebhookRoutes({ kit, steps: c.stepWebhooks });
  const passwordChange = passwordChangeRoutes({ kit, change: c.temporaryPasswordChange, limiter, loginPerIpPerMinute: c.config.rateLimit.loginPerIpPerMinute });

  // The signed-in user's own factors and devices: session cookie or Bearer access token, never an API key.
  const codesPerMinute = c.config.mfa.attemptsPerChallenge;
  const selfServiceAuthDeps: SelfServiceRouteDeps['auth'] = {
    providers: c.providers,
    accounts: c.accounts,
    clients: c.clients,
    authnStates: c.authnStates,
    factors: c.factorManagement,
    csrf: c.csrf,
    sessions: c.sessionPolicy,
  };
  const profile = createProfileService({ accounts: c.accounts, audit: c.audit });
  const selfServiceDeps: SelfServiceRouteDeps = {
    auth: selfServiceAuthDeps,
    factors: c.factorManagement,
    plugins: c.factors.factors,
    devices: c.devices,
    sessions: c.sessionAdmin,
    sso: c.ssoSessions,
    passwords: c.passwordChange,
    destinations: c.destinations,
    limiter,
    issuerName: async (organizationId) => issuerLabel((await c.settings.effective(organizationId)).branding.display_name, c.config.issuer),
    codesPerUserPerMinute: codesPerMinute,
    profile,
  };
  const selfService = selfServiceRoutes(selfServiceDeps);

  // Recovery for someone who cannot sign in, and the signed-in side of it (trusted contacts, their approvals).
  const recoveryPublic = recoveryRoutes({ recovery: c.recovery, limiter, answersPerIpPerMinute: c.config.rateLimit.loginPerIpPerMinute });
  const recoverySignedIn = new Router({ prefix: '/api/v1' });
  recoverySignedIn.use(selfServiceAuth(selfServiceAuthDeps));
  recoverySignedIn.use(trustedContactRoutes({ contacts: c.trustedContacts, factors: c.factorManagement, limiter }).routes());

  const api = new Router({ prefix: '/api/v1' });
  api.use(apiKeyAuth(c.apiKeys, c.adminConsole.apiAuth));
  const clients = clientRoutes(c.clientService);
  const users = userRoutes(c.userService, c.userRecovery);
  const platform = mfaPlatformRoutes({ platform: c.mfaPlatform, plugins: c.factors.factors, limiter, verifyPerUserPerMinute: codesPerMinute });
  api.use(
    clients.routes(),
    // Before the users' `/users/{id}` routes, which would otherwise take `/users/devices` and the like.
    platform.routes(),
    users.routes(),
    userDestinationRoutes({ destinations: c.destinations, accounts: c.accounts }).routes(),
    settingsRoutes(c.settingsAdmin).routes(),
    organizationRoutes(c.organizationService).routes(),
    samlServiceProviderRoutes(c.samlSpService).routes(),
    apiKeyRoutes(c.apiKeyAdmin).routes(),
    signingKeyRoutes(c.signingKeys).routes(),
    auditEventRoutes(c.auditTrail).routes(),
    analyticsRoutes(c.analytics).routes(),
    policyRuleRoutes(c.policyRules).routes(),
    breakGlassRoutes(c.breakGlass).routes(),
    sentinelRoutes({ sentinel: c.sentinel, limiter, perKeyPerMinute: c.config.rateLimit.sentinelPerKeyPerMinute }).routes(),
    userSessionRoutes(c.sessionAdmin).routes(),
    deliveryProviderRoutes(c.deliveryProviders).routes(),
    recoveryRequestRoutes(c.recoveryAdmin).routes(),
    webhookRoutes(c.webhooks).routes(),
    authStepRoutes(c.stepWebhooks).routes(),
    promptWebhookRoutes(c.promptWebhooks, c.allowLoopbackHttp).routes(),
  );
  // Providers' status reports carry the provider's signature, not an API key: matched before the API's key check.
  const deliveryStatus = deliveryStatusRoutes(c.deliveryStatus);
  // Devices answering prompts have no session: their routes come before the self-service ones.
  const prompts = promptRoutes({
    prompts: c.prompts,
    limiter,
    perIpPerMinute: c.config.rateLimit.loginPerIpPerMinute,
    pages: c.pages,
    serviceWorker: path.join(projectRoot, 'assets', 'prompt-sw.js'),
  });

  // Our own routes live under two prefixes; everything else goes straight to the provider.
  const ours = compose([
    parseBodies(c.config.limits.jsonBodyBytes),
    interactions.routes(),
    interactions.allowedMethods(),
    mfa.routes(),
    mfa.allowedMethods(),
    passwordChange.routes(),
    passwordChange.allowedMethods(),
    recoveryPublic.routes(),
    recoveryPublic.allowedMethods(),
    recoverySignedIn.routes(),
    recoverySignedIn.allowedMethods(),
    stepWebhooks.routes(),
    stepWebhooks.allowedMethods(),
    prompts.routes(),
    selfService.routes(),
    selfService.allowedMethods(),
    deliveryStatus.routes(),
    api.routes(),
    api.allowedMethods(),
  ] as Middleware[]) as Middleware;
  const interactionAnswers = compose([noStore(), ours]);
  app.use(async (ctx, next) => {
    await (ctx.path.startsWith('/interaction/')
      ? interactionAnswers(ctx, next)
      : ctx.path.startsWith('/api/') || ctx.path.startsWith('/prompt/')
        ? ours(ctx, next)
        : next());
  });

  // The admin console's page, sign-in and sign-out (its API calls go through /api/v1 above); its client registered now.
  c.adminConsole.register().catch((err: unknown) => c.logger.warn({ err }, 'registering the admin console client failed; retried at its first sign-in'));
  const adminConsole = compose([
    noStore(),
    parseBodies(c.config.limits.jsonBodyBytes),
    adminConsoleRoutes({ console: c.adminConsole, pages: c.pages }).routes(),
  ] as Middleware[]);
  app.use(async (ctx, next) => {
    await (ctx.path === '/admin' || ctx.path.startsWith('/admin/') ? adminConsole(ctx, next) : next());
  });

  // The signed-in user's account console: pages over the same self-service functions.
  const account = compose([
    noStore(),
    parseBodies(c.config.limits.jsonBodyBytes),
    accountRoutes({
      ...selfServiceDeps,
      pages: c.pages,
      signIn: { issuer: c.config.issuer, providers: c.providers, clientService: c.clientService },
      contacts: c.trustedContacts,
      auditTrail: c.auditTrail,
      clock: c.clock,
    }),
  ]);
  app.use(async (ctx, next) => {
    await (ctx.path === '/account' || ctx.path.startsWith('/account/') ? account(ctx, next) : next());
  });

  const issuerPath = new URL(c.config.issuer).pathname.replace(/\/$/, '') || '/';
  const prefix = issuerPath === '/' ? '' : issuerPath;
  const samlLimits = { limiter, messagesPerIpPerMinute: c.config.rateLimit.samlPerIpPerMinute };
  const saml = samlRoutes({ saml: c.saml, sso: c.samlSso, prefix, ...samlLimits });
  const samlSlo = samlSloRoutes({ pages: c.pages, slo: c.samlSlo, sessions: c.ssoSessions, csrf: c.csrf, prefix, ...samlLimits });
  app.use(compose([saml.routes(), saml.allowedMethods(), samlSlo.routes(), samlSlo.allowedMethods()] as Middleware[]));
  app.use(wellKnownCache([`${prefix}/.well-known/openid-configuration`, `${prefix}/jwks`], () => c.providers.current));
  const mounted = new WeakMap<Container['providers']['current'], Middleware>();
  app.use(async (ctx, next) => {
    const provider = c.providers.current;
    let mw = mounted.get(provider);
    if (!mw) {
      mw = mount(issuerPath, provider);
      mounted.set(provider, mw);
    }
    await mw(ctx, next);
  });
  return app;
}

/** The metrics listener's app: /metrics and a JSON 404 for anything else. */
export function buildMetricsApp(c: Container): Koa {
  const app = new Koa();
  app.use(errorHandler(c.logger, c.pages));
  app.use(metricsRoutes(c.metrics).routes() as unknown as Middleware);
  return app;
}
