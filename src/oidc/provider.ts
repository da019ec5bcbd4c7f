import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC, type FindAccount } from 'oidc-provider';
import type { Config } from '../config.js';
import type { ClientRepository } from '../store/repositories/client.repository.js';
import type { AdapterClass } from './adapter.js';
import type { KeyMaterial } from './key-store.js';
import type { ProviderPages } from './render-error.js';
import type { OidcSessionHooks } from './session-hooks.js';

export interface ProviderDeps {
  config: Config;
  adapter: AdapterClass;
  keys: KeyMaterial;
  findAccount: FindAccount;
  clients: Pick<ClientRepository, 'find'>;
  policy?: ReturnType<typeof interactionPolicy.base>;
  pages: ProviderPages;
  /** Adds claims (acr/amr/step_up, later) to JWT access tokens. */
  extraTokenClaims?: Configuration['extraTokenClaims'];
  /** The organisations' session settings: session TTLs, the record of each login's session, refresh-token rotation. */
  sessions?: Pick<OidcSessionHooks, 'ttl' | 'afterRoute' | 'rotateRefreshToken'>;
  /** Shortens an access token's lifetime (seconds) for this request: one carrying a break-glass grant ends with it. */
  accessTokenTtl?: (ctx: unknown, seconds: number) => number;
}

/**
 * The grant this session already has for the client or, for a client `autoConsent` approves, a new
 * one covering exactly the requested scope and resource (otherwise the consent prompt runs).
 */
export async function loadGrantOrAutoConsent(ctx: KoaContextWithOIDC, autoConsent: (clientId: string) => Promise<boolean>) {
  const clientId = ctx.oidc.client!.clientId;
  const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  if (!(await autoConsent(clientId))) return undefined;
  const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session!.accountId! });
  const scope = ctx.oidc.params?.scope;
  if (typeof scope === 'string') grant.addOIDCScope(scope);
  const resource = ctx.oidc.params?.resource;
  if (typeof resource === 'string' && typeof scope === 'string') grant.addResourceScope(resource, scope);
  await grant.save();
  return grant;
}

/** The SSO session cookie's options; a login made through any protocol sets it with these. */
export const sessionCookieOptions = (issuer: string) => ({ httpOnly: true, sameSite: 'lax' as const, secure: issuer.startsWith('https://'), signed: true });

/** How long a session lives from now: the idle timeout, bounded by the absolute lifetime counted from the login. */
export function sessionTtlSeconds(limits: Config['session'], loginTs: number | undefined, now: number): number {
  const absoluteEnd = (loginTs ?? now) + limits.absoluteSeconds;
  return Math.max(1, Math.min(limits.idleSeconds, absoluteEnd - now));
}

export const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'phone', 'api'];
export const ACR_VALUES = ['aal1', 'aal2', 'aal3'];

/**
 * A session whose account can no longer sign in (disabled, deleted: findAccount yields nothing)
 * must not count as signed in. oidc-provider only asks whether the session names an account, and
 * then fails with a server_error on the missing grant; this Check asks for a fresh login instead
 * (login_required for prompt=none). Added once: the policy object outlives provider rebuilds.
 */
function withAccountCheck(policy: ReturnType<typeof interactionPolicy.base>) {
  const login = policy.get('login');
  if (!login || login.checks.get('account_unavailable')) return policy;
  const { Check } = interactionPolicy;
  const at = login.checks.findIndex((c) => c.reason === 'no_session') + 1;
  login.checks.add(
    new Check('account_unavailable', 'the signed-in account can no longer sign in', 'login_required', (ctx: KoaContextWithOIDC) =>
      ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
    at > 0 ? at : login.checks.length,
  );
  return policy;
}

/**
 * The whole provider configuration. Limits come from NIST SP 800-63B AAL2 (12 h absolute,
 * 30 min idle by default) and ASVS 5 (PKCE S256 always, no implicit or password grant).
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const cookieBase = sessionCookieOptions(config.issuer);
  const { secure } = cookieBase;

  const configuration: Configuration = {
    adapter: deps.adapter,
    clients: [],
    findAccount: deps.findAccount,
    jwks: deps.keys.jwks,
    cookies: {
      keys: deps.keys.cookieKeys,
      names: { session: secure ? '__Host-idp_session' : 'idp_session', interaction: 'idp_interaction', resume: 'idp_resume' },
      long: cookieBase,
      short: cookieBase,
    },
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time', 'step_up', 'break_glass', 'permissions'],
      profile: ['preferred_username', 'updated_at'],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    scopes: SCOPES,
    acrValues: ACR_VALUES,
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256'],
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client learns only about its own tokens, and a token whose user can no longer sign in
        // (disabled, deleted) is inactive at once: the provider itself does not look the account up here.
        allowedPolicy: async (ctx, client, token) => {
          if (token.clientId !== client.clientId) return false;
          if (!('accountId' in token) || !token.accountId) return true;
          return (await deps.findAccount(ctx, token.accountId, token)) !== undefined;
        },
      },
      // A client revokes only its own tokens.
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: deps.pages.renderLogout, postLogoutSuccessSource: deps.pages.renderLoggedOut },
      backchannelLogout: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // client_credentials without a `resource` gets a JWT for our API; user logins keep an
        // opaque token for userinfo unless the app asks for a resource.
        defaultResource: (ctx) => (ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials' ? config.apiAudience : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          // RFC 8707 section 2: a resource the IdP does not serve is the client's error, not ours.
          if (resource !== config.apiAudience) throw new errors.InvalidTarget('unknown resource indicator');
          return { scope: 'api', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: config.ttl.accessTokenSeconds, jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    // Per organisation, overridden by a client's own `rotate_refresh_tokens` (extra client metadata).
    rotateRefreshToken: deps.sessions ? (ctx) => deps.sessions!.rotateRefreshToken(ctx) : true,
    extraClientMetadata: {
      properties: ['rotate_refresh_tokens'],
      validator: (_ctx, key, value) => {
        if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // First-party apps skip consent: they get exactly what they asked for.
    loadExistingGrant: (ctx) => loadGrantOrAutoConsent(ctx, async (clientId) => (await deps.clients.find(clientId))?.firstParty === true),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: withAccountCheck(deps.policy ?? interactionPolicy.base()),
    },
    ttl: {
      AccessToken: (ctx) => deps.accessTokenTtl?.(ctx, config.ttl.accessTokenSeconds) ?? config.ttl.accessTokenSeconds,
      AuthorizationCode: config.ttl.authorizationCodeSeconds,
      IdToken: config.ttl.idTokenSeconds,
      Interaction: config.ttl.interactionSeconds,
      ClientCredentials: config.ttl.clientCredentialsSeconds,
      RefreshToken: config.ttl.refreshTokenSeconds,
      Grant: config.ttl.refreshTokenSeconds,
      PushedAuthorizationRequest: 60,
      BackchannelAuthenticationRequest: 600,
      DeviceCode: 600,
      Session: (ctx, session) =>
        deps.sessions ? deps.sessions.ttl(ctx, session) : sessionTtlSeconds(config.session, session.loginTs, Math.floor(Date.now() / 1000)),
    },
    renderError: deps.pages.renderError,
    ...(deps.extraTokenClaims ? { extraTokenClaims: deps.extraTokenClaims } : {}),
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustedProxies.length > 0;
  provider.use((ctx: KoaContextWithOIDC, next) => deps.adapter.undoOnOutage(ctx, next));
  const { sessions } = deps;
  if (sessions) {
    // After the route saved (or destroyed) the session: its own middleware does so on the way out.
    provider.use(async (ctx: KoaContextWithOIDC, next) => {
      await next();
      await sessions.afterRoute(ctx);
    });
  }
  return provider;
}
