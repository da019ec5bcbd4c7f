import type { KoaContextWithOIDC, Session } from 'oidc-provider';
import type { HttpExchange } from '../authn/login-request.js';
import type { SsoSession, SsoSessions } from '../authn/sso-session.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { requestScope } from '../lib/request-scope.js';
import { sessionCookieOptions, sessionTtlSeconds } from './provider.js';
import type { ProviderHolder } from './provider-holder.js';
import type { SignInRecorder } from './sign-in-record.js';

/**
 * The provider's SSO session, read and written outside its own routes: the session the browser's
 * cookie names (`Session.get` verifies the cookie's signature with the provider's keys), and a
 * login finished for another protocol recorded in it as the provider's own resume would.
 */
export function createSsoSessions(deps: {
  providers: ProviderHolder;
  terminator: { endSession(uid: string): Promise<boolean> };
  config: Pick<Config, 'issuer' | 'session'>;
  clock: Clock;
  /** Records the signed-in session (where, on what); minimal until the session policy records it. */
  signIns?: Pick<SignInRecorder, 'record'>;
}): SsoSessions {
  const cookieOptions = sessionCookieOptions(deps.config.issuer);
  const nowSec = () => Math.floor(deps.clock.now() / 1000);

  /** A session counts only while signed in and within its absolute lifetime (the provider's own login Check says the same). */
  function view(s: Session | undefined): SsoSession | undefined {
    if (!s?.accountId || !s.loginTs) return undefined;
    const endsAt = s.loginTs + deps.config.session.absoluteSeconds;
    if (nowSec() >= endsAt) return undefined;
    return { uid: s.uid, accountId: s.accountId, authTime: s.loginTs, amr: s.amr, acr: s.acr, endsAt };
  }

  // Session.get reads the cookie through a context of the provider's own when given a bare exchange.
  const browserSession = (http: HttpExchange) => deps.providers.current.Session.get(http as unknown as KoaContextWithOIDC);
  const cookieName = () => deps.providers.current.cookieName('session');
  const cookies = (http: HttpExchange) => deps.providers.current.createContext(http.req, http.res).cookies;

  return {
    current: async (http) => view(await browserSession(http)),

    async signIn(http, login) {
      const provider = deps.providers.current;
      let session = await browserSession(http);
      if (session.accountId && session.accountId !== login.accountId) {
        // Another person signs in on this browser: the previous one is signed out everywhere first,
        // and the new login gets a session of its own (new uid, new id).
        await deps.terminator.endSession(session.uid);
        session = new (provider.Session as unknown as new (payload: object) => Session)({});
      } else if (!(session as Session & { new?: boolean }).new) {
        // The same person: a fresh id for the raised authentication (no session fixation).
        (session as Session & { resetIdentifier(): void }).resetIdentifier();
      }
      session.loginAccount({ accountId: login.accountId, loginTs: login.ts, amr: login.amr, acr: login.acr });
      const ttl = sessionTtlSeconds(deps.config.session, login.ts, nowSec());
      await session.save(ttl);
      cookies(http).set(cookieName(), session.jti, { ...cookieOptions, expires: new Date((nowSec() + ttl) * 1000) });
      await deps.signIns?.record(session, {
        ip: requestScope()?.ip ?? http.req.socket.remoteAddress ?? 'unknown',
        userAgent: http.req.headers['user-agent'] ?? '',
      });
      return view(session)!;
    },

    find: async (uid) => view(await deps.providers.current.Session.findByUid(uid)),
    end: (uid) => deps.terminator.endSession(uid),
    forget: (http) => cookies(http).set(cookieName(), null, cookieOptions),
  };
}
