import { errors } from 'oidc-provider';
import type { HttpExchange, LoginProtocol, LoginRequest } from '../authn/login-request.js';
import type { SessionPolicy } from '../authn/session-policy.js';
import { badRequest } from '../lib/errors.js';
import { requestedAalOf } from '../policy/assurance.js';
import type { ProviderHolder } from './provider-holder.js';
import type { OidcLoginResult } from './session-hooks.js';

type Details = Awaited<ReturnType<ProviderHolder['current']['interactionDetails']>>;

/** Reasons our own login Check gives; any other reason (no session, max_age, prompt=login) means a fresh login. */
const STEP_UP_REASONS = new Set(['mfa_required']);

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The OIDC side of a login: oidc-provider's interaction becomes a protocol-neutral login request,
 * and a finished login (or a consent, or an abort) goes back to it as the interaction's result.
 */
export function createOidcLogin(providers: ProviderHolder, sessions: Pick<SessionPolicy, 'plan'>): LoginProtocol {
  // The provider's own view of each loaded request, for consent, which needs its missing scopes and grant.
  const loaded = new WeakMap<LoginRequest, Details>();
  const detailsOf = (request: LoginRequest): Details => {
    const details = loaded.get(request);
    if (!details) throw new Error('not an OIDC login request');
    return details;
  };
  const result = (http: HttpExchange, outcome: Parameters<ProviderHolder['current']['interactionResult']>[2], merge: boolean) =>
    providers.current.interactionResult(http.req, http.res, outcome, { mergeWithLastSubmission: merge });

  return {
    origin: 'oidc',

    async load(http, uid) {
      let details: Details;
      try {
        details = await providers.current.interactionDetails(http.req, http.res);
      } catch (err) {
        // No interaction cookie in this browser: not an OIDC login.
        if (err instanceof errors.SessionNotFound) return undefined;
        throw err;
      }
      if (details.uid !== uid) return undefined;
      const accountId = details.session?.accountId;
      const request: LoginRequest = {
        uid,
        origin: 'oidc',
        clientId: text(details.params.client_id),
        prompt: details.prompt.name,
        session: accountId ? { accountId, uid: details.session!.uid } : undefined,
        stepUp: Boolean(accountId) && details.prompt.reasons.every((r) => STEP_UP_REASONS.has(r)),
        requestedAal: requestedAalOf(details.params.acr_values),
        // Every form ends, after redirects, at the redirect_uri the provider validated for this request.
        formTargets: [text(details.params.redirect_uri)],
        scopes: text(details.params.scope).split(' ').filter(Boolean),
        ...(details.params.ui_locales ? { uiLocales: text(details.params.ui_locales) } : {}),
      };
      loaded.set(request, details);
      return request;
    },

    async sessionFacts(request) {
      const session = request.session && (await providers.current.Session.findByUid(request.session.uid));
      return { authTime: Number(session?.loginTs ?? 0), amr: session?.amr };
    },

    // The lifetime is planned now (the organisation's settings are read here) and rides with the result
    // to the resume, where the provider saves the session with it: a browser-session cookie unless
    // "keep me signed in" made it persistent.
    async finish(http, _request, login) {
      const planned = await sessions.plan(login);
      const outcome: OidcLoginResult = {
        login: { accountId: login.accountId, acr: login.acr, amr: login.amr, ts: login.ts, remember: planned.lifetime.persistent },
        planned,
      };
      return result(http, outcome as unknown as Parameters<ProviderHolder['current']['interactionResult']>[2], false);
    },

    async consent(http, request) {
      const details = detailsOf(request);
      const provider = providers.current;
      const accountId = details.session?.accountId;
      if (!accountId) throw badRequest('no signed-in user for this interaction');
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: request.clientId });
      if (!grant) throw badRequest('the grant for this interaction is gone');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      return result(http, { consent: details.grantId ? {} : { grantId } }, true);
    },

    abort: (http, _request, reason) =>
      result(
        http,
        reason
          ? { error: 'unmet_authentication_requirements', error_description: reason.unmet }
          : { error: 'access_denied', error_description: 'the user refused the request' },
        false,
      ),
  };
}
