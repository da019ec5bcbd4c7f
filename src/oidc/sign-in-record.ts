import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { describeUserAgent, USER_AGENT_MAX } from '../risk/user-agent.js';
import type { SessionRecordRepository } from '../store/repositories/session-record.repository.js';

/** A session just signed in, as both protocols know it. */
export interface SignedInSession {
  uid: string;
  accountId?: string;
  loginTs?: number;
  acr?: string;
  amr?: string[];
}

/** Where the sign-in came from. */
export interface SeenFrom {
  ip: string;
  userAgent: string;
}

/**
 * Writes the record of a session just signed in (where, on what, until when), so that the session
 * lists show it. Minimal: the lifetime is the configured default; the session-policy work replaces
 * this with the organisation's lifetime, idle timeout and device bindings.
 */
export function createSignInRecorder(deps: { records: Pick<SessionRecordRepository, 'upsert'>; config: Pick<Config, 'session'>; clock: Clock }) {
  async function record(session: SignedInSession, seen: SeenFrom): Promise<void> {
    if (!session.accountId || !session.loginTs) return;
    const now = new Date(deps.clock.now());
    const userAgent = seen.userAgent.slice(0, USER_AGENT_MAX);
    await deps.records.upsert({
      sessionUid: session.uid,
      userId: session.accountId,
      createdAt: now,
      lastActiveAt: now,
      authTime: new Date(session.loginTs * 1000),
      endsAt: new Date((session.loginTs + deps.config.session.absoluteSeconds) * 1000),
      idleSeconds: deps.config.session.idleSeconds,
      ip: seen.ip,
      userAgent,
      uaFamily: describeUserAgent(userAgent).family,
      acr: session.acr ?? null,
      amr: session.amr ?? [],
    });
  }

  return {
    record,
    /** Provider middleware: an OIDC login is recorded once the provider's resume has signed the session in. */
    async afterResume(ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> {
      await next();
      const session = ctx.oidc?.session;
      if (ctx.oidc?.route !== 'resume' || !ctx.oidc.result?.login || !session?.accountId) return;
      await record(session, { ip: ctx.ip, userAgent: ctx.get('user-agent') });
    },
  };
}

export type SignInRecorder = ReturnType<typeof createSignInRecorder>;
