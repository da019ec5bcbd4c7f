import type { KoaContextWithOIDC, Session } from 'oidc-provider';
import type { HttpExchange } from '../authn/login-request.js';
import type { SessionPolicy } from '../authn/session-policy.js';
import { ttlOf } from '../authn/session-lifetime.js';
import type { SsoSession, SsoSessions } from '../authn/sso-session.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { sessionCookieOptions } from './provider.js';
import type { ProviderHolder } from './provider-holder.js';

/**
 * The provider's SSO session, read and written outside its own routes: the session the browser's
 * cookie names (`Session.get` verifies the cookie's signature with the provider's keys), and a
 * login finished for another protocol recorded in it as the provider's own resume would.
 */
export function createSsoSessions(deps: {
  providers: ProviderHolder;
  terminator: { endSession(uid: string): Promise<boolean> };
  policy: Pick<SessionPolicy, 'plan' | 'started' | 'check'>;
  config: Pick<Config, 'issuer'>;
  clock: Clock;
}): SsoSessions {
  const cookieOptions = sessionCookieOptions(deps.config.issuer);
  const nowSec = () => Math.floor(deps.clock.now() / 1000);

  /**
   * A session counts only while signed in and live by its organisation's settings (the provider's
   * login Check asks the same): within its timeouts and, when a browser uses it, from where it is bound to.
   */
  async function view(s: Session | undefined, http?: HttpExchange): Promise<SsoSession | undefined> {
    if (!s?.accountId || !s.loginTs) return undefined;
    const verdict = await deps.policy.check({ uid: s.uid, accountId: s.accountId, authTime: s.loginTs }, http);
    if (!verdict.live) return undefined;
    // A use outside the provider's routes (SAML) extends the provider's stored TTL, and a persistent
    // cookie's Expires, as its own routes do.
    if (verdict.touched) {
      const ttl = ttlOf(verdict.lifetime, nowSec());
      await s.save(ttl);
      if (http && !s.transient) setCookie(http, s.jti, ttl);
    }
    return { uid: s.uid, accountId: s.accountId, authTime: s.loginTs, amr: s.amr, acr: s.acr, endsAt: verdict.lifetime.endsAt };
  }

  // Session.get reads the cookie through a context of the provider's own when given a bare exchange.
  const browserSession = (http: HttpExchange) => deps.providers.current.Session.get(http as unknown as KoaContextWithOIDC);
  const cookieName = () => deps.providers.current.cookieName('session');
  const cookies = (http: HttpExchange) => deps.providers.current.createContext(http.req, http.res).cookies;
  /** The session cookie: a browser-session cookie, or with `Expires` when the session persists (`ttl` given). */
  const setCookie = (http: HttpExchange, id: string, ttl?: number) =>
    cookies(http).set(cookieName(), id, { ...cookieOptions, ...(ttl !== undefined ? { expires: new Date(Date.now() + ttl * 1000) } : {}) });

  return {
    current: async (http) => view(await browserSession(http), http),

    async signIn(http, login) {
      const provider = deps.providers.current;
      const planned = await deps.policy.plan(login);
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
      const { persistent } = planned.lifetime;
      // A browser-session cookie (no Expires) unless "keep me signed in" made it persistent, as the provider's resume does.
      session.loginAccount({ accountId: login.accountId, loginTs: login.ts, amr: login.amr, acr: login.acr, transient: !persistent });
      if (persistent) delete (session as Session & { transient?: boolean }).transient;
      const ttl = ttlOf(planned.lifetime, nowSec());
      await session.save(ttl);
      setCookie(http, session.jti, persistent ? ttl : undefined);
      await deps.policy.started(session.uid, planned, http);
      return { uid: session.uid, accountId: login.accountId, authTime: login.ts, amr: login.amr, acr: login.acr, endsAt: planned.lifetime.endsAt };
    },

    find: async (uid) => view(await deps.providers.current.Session.findByUid(uid)),
    end: (uid) => deps.terminator.endSession(uid),
    forget: (http) => cookies(http).set(cookieName(), null, cookieOptions),
  };
}
