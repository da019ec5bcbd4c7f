import type { KoaContextWithOIDC, Session } from 'oidc-provider';
import type { PlannedLogin, SessionPolicy, SessionRef } from '../authn/session-policy.js';
import { ttlOf, type SessionLifetime, type SessionVerdict } from '../authn/session-lifetime.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { SessionSettings } from '../policy/settings.js';
import { sessionTtlSeconds } from './provider.js';
import { guard } from './unavailable.js';

/** What our finish hands the provider beside the login: the lifetime the organisation gave it. */
export interface OidcLoginResult {
  login: { accountId: string; acr: string; amr: string[]; ts: number; remember: boolean };
  planned: PlannedLogin;
}

export interface OidcSessionHooksDeps {
  policy: SessionPolicy;
  settings: { effective(orgId?: string): Promise<{ sessions: SessionSettings }> };
  config: Pick<Config, 'session'>;
  clock: Clock;
}

const planOf = (ctx: KoaContextWithOIDC): PlannedLogin | undefined => (ctx.oidc?.result as Partial<OidcLoginResult> | undefined)?.planned;

/**
 * The organisation's session settings on the provider's side: the login Check that judges every
 * authorization request's session, the session's stored TTL (and cookie expiry) from its lifetime,
 * the record written once the provider saved a login's session at the resume, and refresh-token
 * rotation per organisation and client.
 */
export function createOidcSessionHooks(deps: OidcSessionHooksDeps) {
  /** The lifetime the Check judged for this request, which the session's save (later in the same request) uses for its TTL. */
  const judged = new WeakMap<object, Pick<SessionLifetime, 'endsAt' | 'idleSeconds'>>();
  const nowSec = () => Math.floor(deps.clock.now() / 1000);

  return {
    /** Judges the session of an authorization request; a live one's lifetime is kept for its save. */
    async check(ctx: KoaContextWithOIDC, session: SessionRef): Promise<SessionVerdict> {
      const verdict = await deps.policy.check(session, { req: ctx.req, res: ctx.res }, ctx.ip);
      if (verdict.live) judged.set(ctx, verdict.lifetime);
      return verdict;
    },

    /**
     * The provider's `ttl.Session`: at the resume, the lifetime our finish planned; after the Check,
     * the lifetime it judged; otherwise (a route without the Check) the expiry the session already
     * has, or the configured defaults for a new one. Always bounded by the provider's stored TTL.
     */
    ttl(ctx: KoaContextWithOIDC, session: Session): number {
      const planned = planOf(ctx);
      if (planned && planned.ts === session.loginTs && planned.accountId === session.accountId) {
        // The provider's loginAccount only ever sets `transient`: a remembered login on a session
        // that was transient must drop it, before the cookie is written, to get its Expires.
        if (planned.lifetime.persistent) delete (session as Session & { transient?: boolean }).transient;
        return ttlOf(planned.lifetime, nowSec());
      }
      const lifetime = judged.get(ctx);
      if (lifetime) return ttlOf(lifetime, nowSec());
      const realNow = Math.floor(Date.now() / 1000);
      if (!(session as Session & { new?: boolean }).new && typeof session.exp === 'number' && session.exp > realNow) return session.exp - realNow;
      return sessionTtlSeconds(deps.config.session, session.loginTs, nowSec());
    },

    /**
     * After a provider route: once the resume saved the session of a login just finished, its record,
     * then the limit on concurrent sessions, now that this session is visible to every other login's
     * enforcement; a session the route destroyed (a logout at the provider) loses its record.
     */
    async afterRoute(ctx: KoaContextWithOIDC): Promise<void> {
      // Routes outside the provider's router (a 404) have no OIDC context.
      const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
      const session = oidc?.session;
      if (!session) return;
      if ((session as { destroyed?: boolean }).destroyed) {
        if (session.accountId) await deps.policy.ended(session.uid, 'logout');
        return;
      }
      const planned = planOf(ctx);
      if (oidc.route !== 'resume' || !planned) return;
      if (session.accountId !== planned.accountId || session.loginTs !== planned.ts) return;
      await deps.policy.started(session.uid, planned, { req: ctx.req, res: ctx.res }, ctx.ip);
    },

    /**
     * oidc-provider's `rotateRefreshToken`: the client's own `rotate_refresh_tokens` when set, else
     * its account's organisation's. Both come from caches (the client with the request, the settings
     * layers for a second): no database read is added to a refresh.
     */
    async rotateRefreshToken(ctx: KoaContextWithOIDC): Promise<boolean> {
      const own = (ctx.oidc.client as unknown as Record<string, unknown> | undefined)?.rotate_refresh_tokens;
      if (typeof own === 'boolean') return own;
      const orgId = (ctx.oidc.account as { organizationId?: string } | undefined)?.organizationId;
      // A store outage while the cached settings are refreshed is a 503, not a server error.
      return (await guard(() => deps.settings.effective(orgId))).sessions.rotate_refresh_tokens;
    },
  };
}

export type OidcSessionHooks = ReturnType<typeof createOidcSessionHooks>;
