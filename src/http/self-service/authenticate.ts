import type { Context, Middleware } from 'koa';
import { passwordEvent } from '../../authn/mfa.service.js';
import type { Freshness, FactorManagementService } from '../../authn/self-service.service.js';
import type { SessionPolicy } from '../../authn/session-policy.js';
import { safeEqual } from '../../lib/crypto.js';
import { IdpError } from '../../lib/errors.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import type { AuthEvent } from '../../policy/types.js';
import type { User } from '../../store/database.js';
import type { AccountRepository } from '../../store/repositories/account.repository.js';
import type { AuthnStateRepository } from '../../store/repositories/authn-state.repository.js';
import type { ClientRepository } from '../../store/repositories/client.repository.js';
import { body } from '../middleware/body.js';
import type { Csrf } from '../middleware/csrf.js';
import { HTTP_STATUS } from '../middleware/error-status.js';

export interface SelfServiceAuthDeps {
  providers: ProviderHolder;
  accounts: Pick<AccountRepository, 'findById'>;
  clients: Pick<ClientRepository, 'find'>;
  authnStates: Pick<AuthnStateRepository<AuthEvent>, 'get'>;
  factors: Pick<FactorManagementService, 'mfaProofs'>;
  csrf: Csrf;
  /** Judges a cookie session by its organisation's settings (timeouts, bindings) and marks it used. */
  sessions: Pick<SessionPolicy, 'check'>;
}

/** The signed-in user behind a self-service request, and how recent their sign-in and MFA are. */
export interface SelfServicePrincipal {
  user: User;
  via: 'cookie' | 'bearer';
  sessionUid: string;
  /** Present for cookie sessions: what a same-origin page sends back as `X-CSRF-Token`. */
  csrfToken?: string;
  authTime: number;
  amr: string[];
  freshness(): Promise<Freshness>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const BEARER = /^Bearer\s+([A-Za-z0-9._~+/-]{16,512}=*)$/i;

const noSession = () => new IdpError('login_required', 'sign in first (IdP session cookie or a Bearer access token)');
const badToken = (why: string) => new IdpError('invalid_token', why);

export const principalOf = (ctx: Context): SelfServicePrincipal => ctx.state.principal as SelfServicePrincipal;

/**
 * Self-service requests are the user's own: the IdP's session cookie (same-origin pages), or a
 * Bearer access token this IdP issued to a first-party client, still backed by a live session.
 * Cookie-authenticated writes must be JSON or carry the CSRF token: an HTML form (or any request
 * a cross-site page can send without a CORS preflight) never changes factors.
 */
export function selfServiceAuth(deps: SelfServiceAuthDeps): Middleware {
  const { providers } = deps;

  async function fromBearer(token: string) {
    const provider = providers.current;
    const at = await provider.AccessToken.find(token);
    if (!at?.accountId || at.isExpired) throw badToken('the access token is invalid, expired or revoked');
    if (at.jkt || at['x5t#S256']) throw badToken('sender-constrained access tokens are not accepted here');
    if (!(await deps.clients.find(at.clientId!))?.firstParty)
      throw new IdpError('insufficient_scope', 'only tokens of first-party applications manage factors');
    const grant = await provider.Grant.find(at.grantId);
    if (!grant || grant.accountId !== at.accountId || grant.clientId !== at.clientId) throw badToken('the grant behind this token was revoked');
    const session = at.sessionUid ? await provider.Session.findByUid(at.sessionUid) : undefined;
    if (!session || session.accountId !== at.accountId) throw badToken('the sign-in session of this token has ended');
    return session;
  }

  async function fromCookie(ctx: Context) {
    const session = await providers.current.Session.get(ctx);
    if (!session.accountId || !session.loginTs) throw noSession();
    const verdict = await deps.sessions.check(
      { uid: session.uid, accountId: session.accountId, authTime: session.loginTs },
      { req: ctx.req, res: ctx.res },
      ctx.ip,
    );
    if (!verdict.live) throw noSession();
    return session;
  }

  function assertNotForged(ctx: Context, expected: string) {
    if (SAFE_METHODS.has(ctx.method) || JSON_TYPE.test(ctx.get('content-type'))) return;
    const sent = ctx.get('x-csrf-token') || (body(ctx) as { csrf?: unknown } | undefined)?.csrf;
    if (typeof sent !== 'string' || !safeEqual(sent, expected)) {
      throw new IdpError('invalid_csrf_token', 'send JSON (Content-Type: application/json) or the X-CSRF-Token from GET /api/v1/me');
    }
  }

  return async (ctx, next) => {
    const header = ctx.get('authorization');
    let via: SelfServicePrincipal['via'] = 'cookie';
    let session;
    if (header) {
      const match = BEARER.exec(header);
      if (!match) throw badToken('expected Authorization: Bearer <access token>');
      via = 'bearer';
      try {
        session = await fromBearer(match[1]!);
      } catch (err) {
        if (err instanceof IdpError && HTTP_STATUS[err.error] === 401) ctx.set('WWW-Authenticate', `Bearer error="invalid_token"`);
        throw err;
      }
    } else session = await fromCookie(ctx);

    const user = await deps.accounts.findById(session.accountId!);
    if (!user || user.status !== 'active') throw noSession();
    const authTime = Number(session.loginTs ?? 0);
    const amr = session.amr ?? [];
    const csrfToken = via === 'cookie' ? deps.csrf.token(`self-service:${session.uid}`) : undefined;
    if (csrfToken) assertNotForged(ctx, csrfToken);

    const principal: SelfServicePrincipal = {
      user,
      via,
      sessionUid: session.uid,
      csrfToken,
      authTime,
      amr,
      async freshness() {
        const [state, proofs] = await Promise.all([deps.authnStates.get({ accountId: user.id, authTime, amr }), deps.factors.mfaProofs(session.uid)]);
        // What this sign-in proved, per factor and when; without its stored record only the sign-in itself is known.
        const signIn = state?.events ?? [passwordEvent(authTime * 1000)];
        return { signedInAt: authTime * 1000, events: [...signIn, ...proofs] };
      },
    };
    ctx.state.principal = principal;
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
