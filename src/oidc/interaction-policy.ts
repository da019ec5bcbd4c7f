import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { SessionRef } from '../authn/session-policy.js';
import type { SessionVerdict } from '../authn/session-lifetime.js';
import type { Clock } from '../lib/clock.js';
import { asProviderError } from './unavailable.js';

export interface SessionFacts {
  accountId: string;
  authTime: number;
  amr?: string[];
  clientId: string;
  acrValues?: string;
  deviceToken?: string;
  /** The browser's address, for the network the sign-in policy may name. */
  ip?: string;
}

export interface InteractionPolicyDeps {
  /** True when the signed-in session still meets the MFA policy and the requested acr. */
  sessionSatisfies(facts: SessionFacts): Promise<boolean>;
  /** Judges the session by its organisation's settings: timeouts, address and device bindings. */
  sessions: { check(ctx: KoaContextWithOIDC, session: SessionRef): Promise<SessionVerdict> };
  /** The same clock the login stamps `loginTs` with, so the lifetime is measured on one timeline. */
  clock: Clock;
  deviceCookie: string;
}

/**
 * oidc-provider treats acr_values as voluntary and knows nothing of our MFA policy, so the login
 * prompt gets two Checks of ours: the session policy (absolute and idle timeouts, address and
 * device bindings: a fresh login past them, login_required for prompt=none) and
 * `mfa_required` (step-up, reauth interval, newly required MFA) which the interaction answers
 * with the challenge alone.
 */
/** How long after a login its own verdict stands in for the Check's (a consent page may come between). */
const JUST_DECIDED_SECONDS = 60;

export function buildInteractionPolicy(deps: InteractionPolicyDeps) {
  /**
   * The resume of an interaction carries the login our MFA service has just finished for this very
   * authorization request, its client and its acr_values: it finishes a login only once the policy
   * is satisfied, so deciding again here would repeat the same verdict. The provider keeps the
   * result server-side, bound to this browser's interaction cookie and destroyed at this resume, so
   * a browser cannot forge or replay one; any other request (another client, a later one, another
   * account or session) is evaluated in full.
   */
  const justDecided = (login: { accountId: string; ts?: number } | undefined, accountId: string, loginTs: number | undefined) =>
    login !== undefined &&
    login.accountId === accountId &&
    login.ts !== undefined &&
    login.ts === loginTs &&
    Math.floor(deps.clock.now() / 1000) - login.ts <= JUST_DECIDED_SECONDS;

  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  const { Check } = interactionPolicy;

  login.checks.add(
    new Check('session_expired', 'the session timed out or is used from another address or device', 'login_required', async (ctx: KoaContextWithOIDC) => {
      const { session, result } = ctx.oidc;
      if (!session?.accountId || !session.loginTs) return Check.NO_NEED_TO_PROMPT;
      // The resume of the login just finished: its session is being saved with the lifetime just planned.
      if (justDecided(result?.login, session.accountId, session.loginTs)) return Check.NO_NEED_TO_PROMPT;
      try {
        const verdict = await deps.sessions.check(ctx, { uid: session.uid, accountId: session.accountId, authTime: session.loginTs });
        return verdict.live ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      } catch (err) {
        throw asProviderError(err);
      }
    }),
  );

  login.checks.add(
    new Check('mfa_required', 'a stronger or fresher authentication is required', 'interaction_required', async (ctx: KoaContextWithOIDC) => {
      const { session, client, params, result } = ctx.oidc;
      if (!session?.accountId || !client) return Check.NO_NEED_TO_PROMPT;
      if (justDecided(result?.login, session.accountId, session.loginTs)) return Check.NO_NEED_TO_PROMPT;
      try {
        const ok = await deps.sessionSatisfies({
          accountId: session.accountId,
          authTime: session.loginTs ?? 0,
          amr: session.amr,
          clientId: client.clientId,
          acrValues: typeof params?.acr_values === 'string' ? params.acr_values : undefined,
          deviceToken: ctx.cookies.get(deps.deviceCookie),
          ip: ctx.ip,
        });
        return ok ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      } catch (err) {
        throw asProviderError(err);
      }
    }),
  );

  return policy;
}
