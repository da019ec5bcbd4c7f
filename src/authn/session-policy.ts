import type { AuditService } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { Metrics } from '../lib/metrics.js';
import { requestScope } from '../lib/request-scope.js';
import type { SessionSettings } from '../policy/settings.js';
import { describeUserAgent } from '../risk/user-agent.js';
import type { SessionRecordRow } from '../store/database.js';
import type { SessionRecordRepository } from '../store/repositories/session-record.repository.js';
import type { HttpExchange, LoginResult } from './login-request.js';
import type { DeviceKeys } from './session-device.js';
import { judgeSession, lifetimeOf, type RecordedSession, type SeenFrom, type SessionLifetime, type SessionVerdict } from './session-lifetime.js';

export interface SessionPolicyDeps {
  records: SessionRecordRepository;
  settings: { effective(orgId?: string): Promise<{ sessions: SessionSettings }> };
  /** Ends a session as a logout would (grants revoked, relying parties told over the back channel). */
  terminator: { endSession(uid: string, reason: string): Promise<boolean> };
  deviceKeys: DeviceKeys;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
  config: Pick<Config, 'session'>;
  /** The organisation a relying party belongs to (undefined: the global settings), for what the sign-in page offers. */
  organizationOfClient(clientId: string): Promise<string | undefined>;
}

/** A signed-in session as the protocols know it. */
export interface SessionRef {
  uid: string;
  accountId: string;
  /** Epoch seconds. */
  authTime: number;
}

/** A finished login on its way into a session: who, what it proved, and the lifetime its organisation gives it. */
export type PlannedLogin = LoginResult & { lifetime: SessionLifetime };

/**
 * "Last active" is written at most once a minute per session (a compare-and-set, so also across
 * nodes), and more often only for an idle limit so short that a minute would miss it.
 */
const touchEveryMs = (idleSeconds: number) => Math.min(60_000, (idleSeconds * 1000) / 3);

const sec = (d: Date) => Math.floor(d.getTime() / 1000);

const recorded = (r: SessionRecordRow): RecordedSession => ({
  authTime: sec(r.authTime),
  endsAt: sec(r.endsAt),
  lastActiveAt: sec(r.lastActiveAt),
  idleSeconds: r.idleSeconds,
  rememberMe: r.rememberMe,
  acr: r.acr,
  ip: r.ip,
  uaFamily: r.uaFamily,
  deviceKey: r.deviceKey,
});

/**
 * The organisation's `sessions` settings applied to SSO sessions, for every protocol: the lifetime a
 * login gets, its record (where, on what, until when), the judgement of each later use (absolute and
 * idle timeouts, address and device bindings), and the limit on concurrent sessions.
 */
export function createSessionPolicy(deps: SessionPolicyDeps) {
  const { records, audit, metrics, clock } = deps;
  const sessionsOf = async (orgId: string | undefined) => (await deps.settings.effective(orgId)).sessions;
  const limitOf = (s: SessionSettings) => (s.single_session_mode ? 1 : s.max_concurrent_sessions);

  /** The request's address (as the trusted-proxy rules resolved it), browser family and device key. */
  function seenFrom(http: HttpExchange, ip?: string): SeenFrom & { userAgent: string } {
    const userAgent = http.req.headers['user-agent'] ?? '';
    return {
      ip: ip ?? requestScope()?.ip ?? http.req.socket.remoteAddress ?? 'unknown',
      userAgent,
      uaFamily: describeUserAgent(userAgent).family,
      deviceKey: deps.deviceKeys.read(http),
    };
  }

  /** Ends the given sessions to make room, oldest first; returns how many this call ended. */
  async function endExcess(accountId: string, organizationId: string | undefined, victims: readonly SessionRecordRow[]): Promise<number> {
    let ended = 0;
    for (const victim of victims) {
      // Taking the record decides which of concurrent logins ends (and counts) the session.
      if (!(await records.take(victim.sessionUid))) continue;
      if (!(await deps.terminator.endSession(victim.sessionUid, 'max_concurrent_sessions'))) continue;
      ended++;
      await audit.record({
        type: 'session.ended',
        outcome: 'success',
        subject: accountId,
        organizationId,
        data: { reason: 'max_concurrent_sessions', session_id: victim.id },
      });
    }
    return ended;
  }

  return {
    /** Whether the sign-in page for this relying party offers "Keep me signed in" (the account's own organisation decides at the password step). */
    async offersRememberMe(clientId: string): Promise<boolean> {
      return (await sessionsOf(await deps.organizationOfClient(clientId))).allow_remember_me;
    },

    /** The lifetime a finished login gets from its organisation's settings. */
    async plan(login: LoginResult): Promise<PlannedLogin> {
      const settings = await sessionsOf(login.organizationId);
      return { ...login, lifetime: lifetimeOf(settings, login, login.rememberMe === true) };
    },

    /**
     * Before a new session is saved (a login just finished): the account's other live sessions are
     * cut to the limit less one, oldest first (`keepUid`, the browser's own session that the login
     * raises, is not counted). Returns how many ended, for the login's answer.
     */
    async makeRoom(login: Pick<LoginResult, 'accountId' | 'organizationId'>, keepUid: string | undefined): Promise<number> {
      const limit = limitOf(await sessionsOf(login.organizationId));
      if (limit === 0) return 0;
      const others = (await records.listLive(login.accountId, new Date(clock.now()))).filter((r) => r.sessionUid !== keepUid);
      return endExcess(login.accountId, login.organizationId, others.slice(0, Math.max(0, others.length - (limit - 1))));
    },

    /**
     * A session was saved for a finished login: its record is written, then the account's live
     * sessions beyond the limit end, oldest first (created_at, id). Every login enforces after its
     * own session is saved, so whichever enforces last sees them all: concurrent logins leave
     * exactly the newest `limit` sessions. Returns how many this call ended.
     */
    async started(sessionUid: string, login: PlannedLogin, http: HttpExchange, ip?: string): Promise<number> {
      const seen = seenFrom(http, ip);
      const deviceKey = deps.deviceKeys.ensure(http);
      const now = new Date(clock.now());
      await records.upsert({
        sessionUid,
        userId: login.accountId,
        createdAt: now,
        lastActiveAt: now,
        authTime: new Date(login.ts * 1000),
        endsAt: new Date(login.lifetime.endsAt * 1000),
        idleSeconds: login.lifetime.idleSeconds,
        rememberMe: login.lifetime.rememberMe,
        ip: seen.ip,
        userAgent: seen.userAgent.slice(0, 1024),
        uaFamily: seen.uaFamily,
        deviceKey,
        acr: login.acr,
        amr: login.amr,
      });
      const limit = limitOf(await sessionsOf(login.organizationId));
      if (limit === 0) return 0;
      const live = await records.listLive(login.accountId, now);
      return endExcess(login.accountId, login.organizationId, live.slice(0, Math.max(0, live.length - limit)));
    },

    /**
     * Judges a use of a signed-in session (its record, its organisation's settings now, the clock,
     * where the request comes from). A live session is marked used (at most once a minute); a
     * timeout is recorded once as the session's end; a binding mismatch is refused and audited each time.
     */
    async check(session: SessionRef, http?: HttpExchange, ip?: string): Promise<SessionVerdict & { touched?: boolean }> {
      const row = await records.findWithOrganization(session.uid);
      // A record belongs to its session's account only; anything else is judged as unrecorded.
      const record = row && row.userId === session.accountId ? row : undefined;
      const settings = record ? await sessionsOf(record.organizationId) : undefined;
      const seen = http && seenFrom(http, ip);
      const now = clock.now();
      const verdict = judgeSession({
        record: record && recorded(record),
        settings,
        defaults: deps.config.session,
        authTime: session.authTime,
        now: Math.floor(now / 1000),
        seen,
      });
      const who = { subject: session.accountId, organizationId: record?.organizationId, ...(seen ? { ip: seen.ip } : {}) };
      if (verdict.live) {
        // Only a browser's use counts as activity; the record just read says whether a write is due (no round trip otherwise).
        const every = touchEveryMs(verdict.lifetime.idleSeconds);
        if (record && http && now - record.lastActiveAt.getTime() >= every) {
          return { ...verdict, touched: await records.touch(session.uid, new Date(now), every) };
        }
      } else if (verdict.reason === 'binding_mismatch') {
        metrics.sessionBindingRefusals.inc({ kind: verdict.kind });
        await audit.record({ type: 'session.binding_mismatch', outcome: 'failure', ...who, data: { kind: verdict.kind, session_id: record!.id } });
      } else if (record && (await records.expire(session.uid))) {
        metrics.sessionEnds.inc({ reason: verdict.reason });
        await audit.record({ type: 'session.ended', outcome: 'success', ...who, data: { reason: verdict.reason, session_id: record.id } });
      }
      return verdict;
    },

    /** The account's live sessions, oldest first. */
    liveOf: (accountId: string) => records.listLive(accountId, new Date(clock.now())),

    /** A session ended elsewhere (a logout at the provider): its record goes with it, and the end is counted. */
    async ended(sessionUid: string, reason: string): Promise<void> {
      await records.remove(sessionUid);
      metrics.sessionEnds.inc({ reason });
    },

    /** Drops records whose provider session is gone (the sweep timer). */
    prune: () => records.pruneDead(new Date(clock.now())),
  };
}

export type SessionPolicy = ReturnType<typeof createSessionPolicy>;
