import path from 'node:path';
import { createApiKeyAdminService } from './admin/api-key-admin.service.js';
import { createApiKeyService } from './admin/api-key.service.js';
import { createAuditTrailService } from './admin/audit-trail.service.js';
import { createClientService } from './admin/client.service.js';
import { createMfaPlatformService } from './admin/mfa-platform.service.js';
import { createMfaProfileExtension } from './admin/mfa-profile.js';
import { createOrganizationService } from './admin/organization.service.js';
import { createSamlSpService } from './admin/saml-sp.service.js';
import { createSigningKeysService } from './admin/signing-keys.service.js';
import { createSettingsAdminService } from './admin/settings-admin.service.js';
import { createPolicyRuleService } from './admin/policy-rule.service.js';
import { createUserService } from './admin/user.service.js';
import { createSessionAdminService } from './admin/session-admin.service.js';
import { createPasswordChangeService } from './authn/password-change.service.js';
import { loadGeoIp } from './risk/geoip.js';
import { createSessionListRepository } from './store/repositories/session-list.repository.js';
import { createSessionRecordRepository } from './store/repositories/session-record.repository.js';
import { createUserRecoveryService } from './admin/user-recovery.service.js';
import { createAuditService } from './audit/audit.service.js';
import { requestedAalOf } from './policy/assurance.js';
import { createFactorOutcomes } from './authn/factor-outcomes.js';
import { createFactorRegistry, type FactorDeps } from './authn/factors/registry.js';
import type { Factor } from './authn/factor.js';
import { createLoginService } from './authn/login.service.js';
import { createMfaService } from './authn/mfa.service.js';
import { createPasswordChange } from './authn/temporary-password.js';
import { createFactorManagementService } from './authn/self-service.service.js';
import { createTransactionStore } from './authn/transaction.store.js';
import { DEVICE_COOKIE, createTrustedDeviceService } from './authn/trusted-device.service.js';
import { createOidcLogin } from './oidc/oidc-login.js';
import { buildInteractionPolicy } from './oidc/interaction-policy.js';
import { createBreakGlassClaims, createExtraTokenClaims, createStepUpLookup } from './oidc/token-claims.js';
import { createBreakGlassElevation } from './admin/break-glass-elevation.js';
import { createBreakGlassService } from './admin/break-glass.service.js';
import { createBreakGlassRepository } from './store/repositories/break-glass.repository.js';
import { createSettingsService } from './policy/settings.service.js';
import { createRulesService } from './policy/rules.service.js';
import type { AuthEvent } from './policy/types.js';
import { createAuthnStateRepository } from './store/repositories/authn-state.repository.js';
import { createCredentialRepository } from './store/repositories/credential.repository.js';
import { createWebauthnCredentialRepository } from './store/repositories/webauthn-credential.repository.js';
import { createSessionRepository } from './store/repositories/session.repository.js';
import { createSettingsRepository } from './store/repositories/settings.repository.js';
import { createSecurityAnswerRepository } from './store/repositories/security-answer.repository.js';
import { createPolicyRuleRepository } from './store/repositories/policy-rule.repository.js';
import { createTrustedDeviceRepository } from './store/repositories/trusted-device.repository.js';
import type { Config } from './config.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createSecretBox, hmac } from './lib/crypto.js';
import { createCsrf } from './http/middleware/csrf.js';
import { resolveEncryptionKey } from './lib/encryption-key.js';
import { createLogger, type Logger } from './lib/logger.js';
import { createMetrics } from './lib/metrics.js';
import { createAdapterClass } from './oidc/adapter.js';
import { createClientCache } from './oidc/client-cache.js';
import { createFindAccount } from './oidc/find-account.js';
import { createKeyStore } from './oidc/key-store.js';
import { createProviderHolder } from './oidc/provider-factory.js';
import { createSessionTerminator } from './oidc/session-terminator.js';
import { createOidcSessionHooks } from './oidc/session-hooks.js';
import { createDeviceKeys } from './authn/session-device.js';
import { createSessionPolicy } from './authn/session-policy.js';
import { createSsoSessions } from './oidc/sso-sessions.js';
import { createAuthnRequestReader } from './saml/authn-request.js';
import { createSamlIdpHolder } from './saml/identity-provider.js';
import { createSamlResponder } from './saml/response.js';
import { createSamlKeyStore } from './saml/key-store.js';
import { createLogoutMessages } from './saml/logout-builder.js';
import { createLogoutMessageReader } from './saml/logout-message.js';
import { createSamlSlo } from './saml/slo.js';
import { createSamlSso } from './saml/sso.js';
import { createSentinelService } from './admin/sentinel.service.js';
import { createRiskEngine } from './risk/risk-engine.js';
import { createFailedAttemptRepository } from './store/repositories/failed-attempt.repository.js';
import { createRiskLoginRepository } from './store/repositories/risk-login.repository.js';
import { migrateToLatest, openDatabase, ping } from './store/db.js';
import { createRateLimitCounters } from './store/rate-limit-counters.js';
import { connectRedis } from './store/redis/client.js';
import { createRedisEphemeralStore } from './store/redis/redis-ephemeral.store.js';
import { createRedisOidcStore } from './store/redis/redis-oidc.store.js';
import { createAccountRepository } from './store/repositories/account.repository.js';
import { createApiKeyRepository } from './store/repositories/api-key.repository.js';
import { createAuditEventRepository } from './store/repositories/audit-event.repository.js';
import { createClientRepository } from './store/repositories/client.repository.js';
import { createSamlServiceProviderRepository } from './store/repositories/saml-service-provider.repository.js';
import { createSamlSessionRepository } from './store/repositories/saml-session.repository.js';
import { createOrganizationRepository } from './store/repositories/organization.repository.js';
import { createSqlEphemeralStore, sweepExpired } from './store/sql/sql-ephemeral.store.js';
import { createSqlOidcStore } from './store/sql/sql-oidc.store.js';
import { createOutbox } from './delivery/outbox.js';
import { createCodeDelivery } from './delivery/code-delivery.js';
import { createDeliveryStatusService } from './delivery/delivery-status.service.js';
import { createMailTemplates, mailTemplatesDir } from './delivery/mail-templates.js';
import { createWording } from './delivery/wording.js';
import { createProviderAdminService } from './delivery/provider-admin.service.js';
import { createSmtpMail } from './delivery/smtp-mail.js';
import { createDeliveryProviderRepository } from './store/repositories/delivery-provider.repository.js';
import { createDeliveryRepository } from './store/repositories/delivery.repository.js';
import { localesDir, viewsDir } from './config.js';
import type { MailDelivery } from './delivery/delivery.js';
import { createSecurityNotifier } from './notify/security-notifier.js';
import { createRecoveryAdminService } from './recovery/recovery-admin.service.js';
import { createRecoveryMail } from './recovery/recovery-mail.js';
import { createRecoverySecrets } from './recovery/recovery-secrets.js';
import { createRecoveryService } from './recovery/recovery.service.js';
import { createTrustedContactService } from './recovery/trusted-contacts.service.js';
import { createRecoveryRequestRepository } from './store/repositories/recovery-request.repository.js';
import { createTrustedContactRepository } from './store/repositories/trusted-contact.repository.js';
import { createWebhookRepository } from './store/repositories/webhook.repository.js';
import { createDeliveryWorker } from './webhooks/delivery-worker.js';
import { createWebhookQueue } from './webhooks/events.js';
import { authEventListener } from './webhooks/auth-events.js';
import { createWebhookSubscriptionService } from './webhooks/subscription.service.js';
import { createStepWebhookService } from './webhooks/step.service.js';

import { createPromptService } from './authn/factors/prompt/prompts.js';
import { createPromptRepository } from './store/repositories/prompt.repository.js';
import { createPromptWebhookService } from './admin/prompt-webhook.service.js';
import { createOneTimeCodes } from './authn/one-time-codes/codes.js';
import { createCodeSender } from './authn/one-time-codes/code-sender.js';
import { createDestinationService } from './authn/one-time-codes/destinations.service.js';
import { loadMessages } from './i18n/i18n.js';
import { createPages } from './i18n/pages.js';
import { createViewRenderer } from './lib/views.js';
import { createAdminConsole } from './http/admin-console/admin-console.js';
import { providerPages } from './oidc/render-error.js';
import { passkeyMessages } from './authn/factors/passkey/passkey.view.js';
import { createAnalyticsService } from './analytics/analytics.service.js';
import { createAnalyticsRepository } from './store/repositories/analytics.repository.js';

const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** How long a delivery attempt's record is kept (for support and provider disputes). */
const DELIVERY_RECORD_DAYS = 90;

export interface ContainerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Skip migrations (a node that joins an already-migrated database may still run them: they are idempotent). */
  migrate?: boolean;
  /** MFA methods of the embedder's own, registered beside the built-in ones (each with its own method name). */
  factors?: (deps: FactorDeps) => readonly Factor[];
}

/** The composition root: every long-lived object is built here and nowhere else. */
export async function createContainer(config: Config, opts: ContainerOptions = {}) {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const encryptionKey = resolveEncryptionKey(config, logger);
  const box = createSecretBox(encryptionKey);
  // Keys the hashes under which bearer values (token, session and interaction ids) are stored.
  const idKey = hmac(encryptionKey, 'oidc-ids-v1');
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: config.databaseSchema });
  const { db } = database;
  if (opts.migrate !== false) await migrateToLatest(db, config.databaseSchema);
  if (database.engine === 'pglite' && !config.redisUrl) logger.info({ dataDir: config.dataDir }, 'embedded PostgreSQL (PGlite): development mode');

  const redis =
    config.redisUrl || config.redisClusterNodes?.length
      ? await connectRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes, keyPrefix: config.redisKeyPrefix })
      : undefined;
  const ephemeral = redis ? createRedisEphemeralStore(redis) : createSqlEphemeralStore(db);
  const rateLimitCounters = createRateLimitCounters(redis, db);
  const durableOidc = createSqlOidcStore(db);

  const breakGlassGrants = createBreakGlassRepository(db);
  const metrics = createMetrics({ breakGlassStates: () => breakGlassGrants.countByState(new Date(clock.now())) });
  const accounts = createAccountRepository(db);
  const organizations = createOrganizationRepository(db);
  const clients = createClientRepository(db);
  const auditEvents = createAuditEventRepository(db);
  const audit = createAuditService(auditEvents, logger);
  const keyStore = createKeyStore(db, box);
  await keyStore.ensure();
  const samlKeyStore = createSamlKeyStore(db, box, new URL(config.issuer).hostname);
  await samlKeyStore.ensure();
  const saml = await createSamlIdpHolder({ issuer: config.issuer, keyStore: samlKeyStore, reloadSeconds: config.keys.reloadSeconds, logger });
  const samlProviders = createSamlServiceProviderRepository(db);

  const clientCache = createClientCache(clients, box);
  const cachedClients = { find: clientCache.record };
  const credentials = createCredentialRepository(db);
  const authnStates = createAuthnStateRepository<AuthEvent>(db);
  // Codes and e-mails: the organisations' SMS/voice providers and the SMTP server; the outbox when none is configured.
  const site = new URL(config.issuer).hostname;
  // Every page, e-mail, SMS and call takes its texts from these catalogues.
  const messages = loadMessages(localesDir);
  // The settings service is built after the factor registry; messages read it only once requests run.
  const wording = createWording({ messages, site, branding: async (orgId) => (await settings.effective(orgId)).branding });
  const mailTemplates = createMailTemplates(mailTemplatesDir(viewsDir), wording);
  const outbox = createOutbox(path.join(config.dataDir, 'outbox'), logger, { mail: mailTemplates, wording });
  const smtp = config.smtp.url
    ? createSmtpMail({
        url: config.smtp.url,
        from: config.smtp.from ?? `no-reply@${site}`,
        timeoutMs: config.delivery.timeoutMs,
        templates: mailTemplates,
        metrics,
        logger,
      })
    : undefined;
  if (!smtp)
    logger.warn({ outbox: path.join(config.dataDir, 'outbox') }, 'no SMTP server is configured (SMTP_URL): e-mails are written to the outbox, not sent');
  const mail: MailDelivery = smtp ?? outbox;
  const deliveryProviders = createDeliveryProviderRepository(db);
  const deliveryRecords = createDeliveryRepository(db);
  const statusUrl = (providerId: string) => `${config.issuer}/api/v1/delivery-status/${providerId}`;
  const delivery = {
    codes: createCodeDelivery({
      providers: deliveryProviders,
      deliveries: deliveryRecords,
      mail,
      fallback: outbox,
      box,
      metrics,
      logger,
      clock,
      wording,
      timeoutMs: config.delivery.timeoutMs,
      statusUrl,
    }),
    mail,
  };
  const promptRepo = createPromptRepository(db);
  // A push receiver on http://127.0.0.1 is a test's or a developer's; production pushes over https only.
  const allowLoopbackHttp = config.nodeEnv !== 'production';
  const prompts = createPromptService({
    repo: promptRepo,
    box,
    clock,
    audit,
    ephemeral,
    logger,
    issuer: config.issuer,
    geo: loadGeoIp,
    appName: async (clientId) => {
      const name = (await cachedClients.find(clientId))?.metadata.client_name;
      return typeof name === 'string' ? name : undefined;
    },
    allowLoopbackHttp,
  });
  // Keys the hashes of one-time codes, of their bindings and of destinations (found again without being stored in clear).
  const otpKey = hmac(encryptionKey, 'one-time-codes-v1');
  const oneTimeCodes = createOneTimeCodes({ ephemeral, clock, key: otpKey });
  // The settings service needs the registered methods first: the sender reads it only once requests run.
  const codeSender = createCodeSender({
    codes: oneTimeCodes,
    ephemeral,
    delivery,
    audit,
    key: otpKey,
    settings: { effective: (orgId) => settings.effective(orgId) },
  });
  const factorDeps = {
    credentials,
    webauthn: createWebauthnCredentialRepository(db),
    ephemeral,
    audit,
    box,
    clock,
    issuer: config.issuer,
    config,
    delivery,
    securityAnswers: createSecurityAnswerRepository(db),
    // The settings service is built after the registry (it validates method names against it); this runs only later.
    settingsFor: async (accountId: string) => settings.effective((await accounts.findById(accountId))?.organizationId),
    prompt: { service: prompts, repo: promptRepo, allowLoopbackHttp },
    accounts,
    otp: { codes: oneTimeCodes, sender: codeSender },
  };
  const factors = createFactorRegistry(factorDeps, opts.factors?.(factorDeps));
  // Security notices to the account's verified addresses, from the audit trail (ten an hour per user at most).
  const notifier = createSecurityNotifier({ accounts, credentials, box, mail: delivery.mail, ephemeral, logger, perUserPerHour: 10, collapseSeconds: 600 });
  notifier.attach(audit);
  const settings = createSettingsService({ settings: createSettingsRepository(db), organizations, config, methods: factors.methods });
  const policyRuleRows = createPolicyRuleRepository(db);
  const rules = createRulesService({ rules: policyRuleRows, logger });
  const devices = createTrustedDeviceService({ devices: createTrustedDeviceRepository(db), audit, clock });
  const sessionRecords = createSessionRecordRepository(db);
  // The provider is built after the services its interaction policy uses; the terminator only needs it at call time.
  const sessionTerminator = createSessionTerminator({
    providers: {
      get current() {
        return providers.current;
      },
    },
    sessions: createSessionRepository(db),
    records: sessionRecords,
    metrics,
    logger,
  });
  // The organisations' `sessions` settings, for every protocol's SSO session.
  const sessionPolicy = createSessionPolicy({
    records: sessionRecords,
    settings,
    terminator: sessionTerminator,
    deviceKeys: createDeviceKeys(config.issuer),
    audit,
    metrics,
    clock,
    config,
    organizationOfClient: async (clientId) => (await cachedClients.find(clientId))?.organizationId,
  });
  const oidcSessions = createOidcSessionHooks({ policy: sessionPolicy, settings, config, clock });
  const outcomes = createFactorOutcomes({ credentials, devices, sessions: sessionTerminator, settings, audit, metrics, clock });
  const risk = createRiskEngine({
    logins: createRiskLoginRepository(db),
    failedAttempts: createFailedAttemptRepository(db),
    trustedDevices: createTrustedDeviceRepository(db),
    settings,
    clock,
    logger,
  });

  const breakGlass = createBreakGlassElevation({ grants: breakGlassGrants, settings, audit, metrics, clock });
  const breakGlassClaims = createBreakGlassClaims(breakGlass, clock);
  const mfa = createMfaService({
    breakGlass,
    logger,
    risk,
    accounts,
    credentials,
    clients: cachedClients,
    settings,
    rules,
    factors,
    devices,
    audit,
    metrics,
    clock,
    config,
    authnStates,
    outcomes,
    transactions: createTransactionStore(ephemeral, config.ttl.interactionSeconds, idKey),
  });
  // Factors managed outside a login: the platform API and the signed-in user's self-service.
  const factorManagement = createFactorManagementService({ credentials, factors, outcomes, settings, ephemeral, audit, clock, config });
  // Recovery when every factor is lost: by a verified address, or by trusted contacts.
  const recoveryRequests = createRecoveryRequestRepository(db);
  const trustedContactRows = createTrustedContactRepository(db);
  const recoveryMail = createRecoveryMail({ credentials, box, mail: delivery.mail, codes: delivery.codes, issuer: config.issuer });
  const recovery = createRecoveryService({
    accounts,
    requests: recoveryRequests,
    ephemeral,
    contacts: trustedContactRows,
    factors,
    management: factorManagement,
    settings,
    mail: recoveryMail,
    secrets: createRecoverySecrets(hmac(encryptionKey, 'recovery-v1')),
    audit,
    clock,
    logger,
    issuerName: new URL(config.issuer).hostname,
  });
  const destinations = createDestinationService({
    credentials,
    box,
    codes: oneTimeCodes,
    sender: codeSender,
    mail: delivery.mail,
    outcomes,
    audit,
    logger,
    key: otpKey,
    now: () => clock.now(),
    provenBy: { phone: factors.get('sms')!.descriptor, email: factors.get('email')!.descriptor },
  });
  const adapter = createAdapterClass({
    durable: durableOidc,
    shortLived: redis ? createRedisOidcStore(redis) : durableOidc,
    clients: clientCache,
    // Derived like the CSRF key, so every node finds what another stored.
    idKey,
    box,
  });
  // A refresh or code exchange reads its authentication record with the token; other requests read it here.
  const stepUps = createStepUpLookup(async (key) => {
    const ahead = adapter.takeStepUp(key);
    return (ahead ? ahead.stepUp : (await authnStates.get(key))?.stepUp) ?? false;
  });
  // Every page: the templates (each factor's challenge and enrolment forms as partials), in the request's language and its organisation's branding.
  const views = createViewRenderer(viewsDir, {
    ...Object.fromEntries(
      factors.factors.flatMap((f): [string, string][] => [
        [`challenge:${f.descriptor.method}`, f.challengeView],
        ...(f.enrolment ? [[`enroll:${f.descriptor.method}`, f.enrolment.view] as [string, string]] : []),
      ]),
    ),
    // The sign-in page's passwordless form speaks the page's language too.
    'passkey-messages': passkeyMessages,
  });
  const pages = createPages({ views, messages, branding: async (orgId) => (await settings.effective(orgId ?? undefined)).branding });
  const providers = await createProviderHolder({
    config,
    pages: providerPages(pages),
    keyStore,
    clients: cachedClients,
    logger,
    adapter,
    // A refresh or code exchange reads its account with the token; other requests read it here.
    findAccount: breakGlassClaims.withBreakGlass(
      createFindAccount(
        {
          findById: async (id) => {
            const ahead = adapter.takeAccount(id);
            return ahead ? ahead.account : accounts.findById(id);
          },
        },
        stepUps,
      ),
    ),
    extend: {
      extraTokenClaims: createExtraTokenClaims(stepUps, breakGlassClaims),
      accessTokenTtl: breakGlassClaims.accessTokenTtl,
      sessions: oidcSessions,
      policy: buildInteractionPolicy({
        sessions: oidcSessions,
        clock,
        deviceCookie: DEVICE_COOKIE,
        sessionSatisfies: (f) => mfa.sessionSatisfies({ ...f, requestedAal: requestedAalOf(f.acrValues) }),
      }),
    },
  });

  const ssoSessions = createSsoSessions({ providers, terminator: sessionTerminator, policy: sessionPolicy, config, clock });
  const login = createLoginService({ accounts, audit, metrics, settings, clock });
  const samlResponses = createSamlResponder({ saml, idKey, clock });
  const readAuthnRequest = createAuthnRequestReader({ providers: samlProviders, ephemeral, issuer: config.issuer, clock });
  const samlParticipants = createSamlSessionRepository(db);
  const samlSso = createSamlSso({
    readAuthnRequest,
    responses: samlResponses,
    serviceProviders: samlProviders,
    participants: samlParticipants,
    sessions: ssoSessions,
    accounts,
    mfa,
    ephemeral,
    audit,
    clock,
    box,
    idKey,
    issuer: config.issuer,
    loginTtlSeconds: config.ttl.interactionSeconds,
  });
  const samlSlo = createSamlSlo({
    readLogoutMessage: createLogoutMessageReader({ providers: samlProviders, ephemeral, issuer: config.issuer, clock }),
    messages: createLogoutMessages({ saml, clock }),
    serviceProviders: samlProviders,
    participants: samlParticipants,
    sessions: ssoSessions,
    ephemeral,
    audit,
    box,
    idKey,
    issuer: config.issuer,
  });

  const apiKeyRepo = createApiKeyRepository(db);
  const apiKeys = createApiKeyService({
    repo: apiKeyRepo,
    clock,
    audit,
    onTouchError: (err) => logger.warn({ err }, "recording an API key's last use failed"),
  });
  if (config.bootstrapApiKey) await apiKeys.ensureBootstrap(config.bootstrapApiKey);
  // The admin console signs in through this IdP as a first-party client.
  const adminConsole = createAdminConsole({ issuer: config.issuer, encryptionKey, box, clock, ephemeral, accounts, organizations, clients });

  // Webhooks: a durable queue in PostgreSQL, sent by a worker on every node; auth events are enqueued as they are audited.
  const webhookRepo = createWebhookRepository(db);
  const webhookRules = {
    allowHttpLoopback: config.webhooks.allowHttpLoopback,
    allowPrivateTargets: config.webhooks.allowPrivateTargets ?? config.nodeEnv !== 'production',
  };
  const webhookWorker = createDeliveryWorker({ repo: webhookRepo, box, clock, logger, rules: webhookRules, timeoutMs: config.webhooks.timeoutMs });
  if (config.webhooks.workerIntervalMs > 0) webhookWorker.start(config.webhooks.workerIntervalMs);
  const webhookQueue = createWebhookQueue({ repo: webhookRepo, box, clock, kick: webhookWorker.kick });
  audit.subscribe(authEventListener({ queue: webhookQueue, organizationOf: async (id) => (await accounts.findById(id))?.organizationId }));

  const timers = [
    setInterval(() => {
      Promise.all([sweepExpired(db), authnStates.sweep(), risk.sweep(), sessionPolicy.prune(), promptRepo.sweepPrompts(new Date(clock.now()))]).catch((err) =>
        logger.warn({ err }, 'sweep of expired rows failed'),
      );
    }, 60_000),
    setInterval(() => {
      deliveryRecords.prune(new Date(clock.now() - DELIVERY_RECORD_DAYS * 86_400_000)).catch((err) => logger.warn({ err }, 'pruning delivery records failed'));
    }, 3_600_000),
  ];
  timers.forEach((t) => t.unref());

  return {
    config,
    logger,
    messages,
    pages,
    /** What the pages show of a relying party: its name and logo, and the organisation whose branding applies (SAML SPs have none here). */
    relyingParty: async (clientId: string) => {
      const found = await cachedClients.find(clientId);
      return (
        found && {
          organizationId: found.organizationId ?? null,
          name: text(found.metadata.client_name),
          logoUri: text(found.metadata.logo_uri),
          homeUri: text(found.metadata.client_uri),
        }
      );
    },
    clock,
    box,
    db,
    redis,
    ephemeral,
    rateLimitCounters,
    metrics,
    accounts,
    organizations,
    clients,
    audit,
    keyStore,
    providers,
    samlKeyStore,
    saml,
    readAuthnRequest,
    samlResponses,
    samlSso,
    samlSlo,
    samlParticipants,
    ssoSessions,
    apiKeys,
    adminConsole,
    apiKeyAdmin: createApiKeyAdminService({ keys: apiKeys, repo: apiKeyRepo, organizations, audit, clock }),
    signingKeys: createSigningKeysService({
      oidc: keyStore,
      saml: samlKeyStore,
      reload: { oidc: () => providers.reload(), saml: () => saml.reload() },
      audit,
      tokenLifetimeSeconds: Math.max(config.ttl.accessTokenSeconds, config.ttl.idTokenSeconds, config.ttl.clientCredentialsSeconds),
    }),
    /** The protocols a login can be asked for by; each finishes the logins it started. */
    loginProtocols: [createOidcLogin(providers, sessionPolicy), samlSso.protocol],
    sessionPolicy,
    credentials,
    /** How codes and e-mails leave: what the factors send through. */
    delivery,
    deliveryProviders: createProviderAdminService({ providers: deliveryProviders, deliveries: deliveryRecords, organizations, box, audit }),
    deliveryStatus: createDeliveryStatusService({ providers: deliveryProviders, deliveries: deliveryRecords, box, clock, statusUrl }),
    settings,
    factors,
    devices,
    mfa,
    authnStates,
    factorManagement,
    /** Push approval: devices' answers and the organisations' prompt webhooks. */
    prompts,
    promptWebhooks: createPromptWebhookService({ organizations, repo: promptRepo, box, audit }),
    allowLoopbackHttp,
    /** Verified phone numbers and e-mail addresses, where one-time codes go. */
    destinations,
    /** One-time codes by binding (`login:<uid>`, `session:<id>`, `verify:<credentialId>`) and their sending. */
    oneTimeCodes,
    codeSender,
    /** The risk engine: `assess` an attempt, `record` a successful login's facts. */
    risk,
    sentinel: createSentinelService({ risk, accounts, audit, clock }),
    mfaPlatform: createMfaPlatformService({ accounts, factors: factorManagement, devices, audit }),
    organizationService: createOrganizationService({ organizations, audit }),
    settingsAdmin: createSettingsAdminService({ settings, organizations, audit }),
    policyRules: createPolicyRuleService({
      rules: policyRuleRows,
      engine: rules,
      settings,
      organizations,
      clients: cachedClients,
      methods: factors.descriptors,
      audit,
      clock,
    }),
    // Derived from the shared encryption key, so a form rendered by one node verifies on any other.
    csrf: createCsrf(hmac(encryptionKey, 'csrf-v1')),
    login,
    sessionAdmin: createSessionAdminService({
      list: createSessionListRepository(db),
      accounts,
      revoker: sessionTerminator,
      geo: loadGeoIp,
      idKey,
      audit,
      metrics,
      clock,
    }),
    passwordChange: createPasswordChangeService({ login, accounts, outcomes, audit }),
    clientService: createClientService({
      clients,
      organizations,
      box,
      providers,
      audit,
      methods: factors.methods,
      changed: (id) => clientCache.invalidate(id),
    }),
    samlSpService: createSamlSpService({ providers: samlProviders, organizations, audit }),
    auditTrail: createAuditTrailService({ events: auditEvents, audit }),
    analytics: createAnalyticsService({ repo: createAnalyticsRepository(db), descriptors: factors.descriptors, clock }),
    breakGlassElevation: breakGlass,
    breakGlass: createBreakGlassService({
      grants: breakGlassGrants,
      accounts,
      settings,
      sessions: sessionTerminator,
      audit,
      metrics,
      clock,
      config,
      approved: notifier.told,
    }),
    userService: createUserService(
      {
        accounts,
        organizations,
        sessions: sessionTerminator,
        audit,
        metrics,
        clock,
        methodsOf: (counts) => [...factors.enrolledIn(counts)].sort(),
        verifiedContacts: {
          check: (given) => destinations.check(given),
          adopt: (user, given, by) =>
            destinations.adopt(user, given, {
              actor: by.actor ?? 'unknown',
              ip: by.ip ?? undefined,
              requestId: by.requestId ?? undefined,
              via: 'platform_api',
            }),
        },
      },
      [createMfaProfileExtension({ credentials, clock, methodsOf: (counts) => [...factors.enrolledIn(counts)].sort() })],
    ),
    userRecovery: createUserRecoveryService({
      accounts,
      credentials,
      factors,
      outcomes,
      metrics,
      clock,
      temporaryPasswordSeconds: config.ttl.temporaryPasswordSeconds,
    }),
    notifier,
    recovery,
    trustedContacts: createTrustedContactService({
      accounts,
      contacts: trustedContactRows,
      requests: recoveryRequests,
      recovery,
      settings,
      mail: recoveryMail,
      audit,
      clock,
      logger,
    }),
    recoveryAdmin: createRecoveryAdminService({ accounts, requests: recoveryRequests, recovery, clock }),
    /** The password_change step of a login signed in with a temporary password. */
    temporaryPasswordChange: createPasswordChange({ accounts, mfa, audit, metrics, clock }),
    webhookWorker,
    webhookQueue,
    /** MFA steps run through an organisation's own app (the `step_webhooks` settings). */
    stepWebhooks: createStepWebhookService({
      mfa,
      settings,
      destinations,
      subscriptions: webhookRepo,
      queue: webhookQueue,
      ephemeral,
      tokenKey: hmac(encryptionKey, 'webhook-steps-v1'),
      ttlSeconds: config.ttl.interactionSeconds,
    }),
    webhooks: createWebhookSubscriptionService({
      repo: webhookRepo,
      organizations,
      box,
      audit,
      clock,
      rules: webhookRules,
      kick: webhookWorker.kick,
      changed: webhookQueue.changed,
    }),
    readiness: [
      { name: 'postgres', check: () => ping(db) },
      ...(redis
        ? [
            {
              name: 'redis',
              check: async () => {
                await redis.ping();
              },
            },
          ]
        : []),
    ],
    async close() {
      timers.forEach(clearInterval);
      smtp?.close();
      // Notices already queued go out before the database they read closes.
      await notifier.idle();
      await webhookWorker.stop();
      providers.close();
      saml.close();
      if (redis) redis.disconnect();
      await database.close();
    },
  };
}

export type Container = Awaited<ReturnType<typeof createContainer>>;
