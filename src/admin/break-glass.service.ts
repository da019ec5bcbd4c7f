import type { AuditService } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { badRequest, conflict, IdpError, notFound } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { BreakGlassGrantRow, User } from '../store/database.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';
import type { BreakGlassRepository } from '../store/repositories/break-glass.repository.js';
import type { BreakGlassListQuery, BreakGlassRequestInput, BreakGlassReviewInput } from './break-glass.schema.js';
import { breakGlassView, grantState } from './break-glass.view.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';

/** The API key asking: who (for the trail), which key (for the four-eyes rule), what it reaches. */
export type KeyCaller = Caller & { keyId: string };

export interface BreakGlassServiceDeps {
  grants: BreakGlassRepository;
  accounts: { findById(id: string): Promise<Pick<User, 'id' | 'organizationId'> | undefined> };
  settings: Pick<SettingsService, 'effective'>;
  /** Ends every session of the user (back-channel logout included) and revokes their refresh tokens. */
  sessions: { endOtherSessions(accountId: string): Promise<number> };
  audit: Pick<AuditService, 'record'>;
  metrics: Pick<Metrics, 'breakGlass'>;
  clock: Clock;
  config: Pick<Config, 'breakGlass'>;
  /** Told of an approval's events once its transaction committed (they bypass the audit service's listeners): the user's security notice. */
  approved?: (events: AuditRecord[]) => void;
}

// Opaque to clients; inside, the last grant of the page: (requested_at, id).
const encodeCursor = (g: BreakGlassGrantRow) => Buffer.from(`${g.requestedAt.toISOString()}|${g.id}`).toString('base64url');
function decodeCursor(cursor: string | undefined): { requestedAt: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text);
  const requestedAt = m ? new Date(m[1]!) : undefined;
  if (!m || !requestedAt || Number.isNaN(requestedAt.getTime())) throw badRequest('cursor: not a cursor this API gave out');
  return { requestedAt, id: m[2]! };
}

/**
 * Break-glass (emergency) access: a key with `break_glass:request` asks for extra permissions for
 * one user, a different key with `break_glass:approve` approves it (four eyes, unless the
 * organisation allows self-approval, which is then flagged), and the grant is active for its
 * duration from the approval. Every change is written together with its audit events, so a grant
 * whose record cannot be written is not made. Grants of organisations a key cannot reach are
 * answered as absent (404), exactly like unknown ids.
 */
export function createBreakGlassService(deps: BreakGlassServiceDeps) {
  const { grants, clock, metrics } = deps;
  const now = () => new Date(clock.now());

  /** The grant's lifecycle event and, for a grant whose admins asked to be told, its notification. */
  function events(type: string, stage: string | undefined, by: Caller, data: Record<string, unknown> = {}) {
    return (g: BreakGlassGrantRow): AuditRecord[] => {
      const base = { outcome: 'success' as const, actor: by.actor, ip: by.ip, requestId: by.requestId, subject: g.id, organizationId: g.organizationId };
      const facts = { grant_id: g.id, user_id: g.userId, ...data };
      const notify = stage && g.notifyAdmins ? [{ ...base, type: 'break_glass.notification', data: { ...facts, stage } }] : [];
      return [{ ...base, type, data: facts }, ...notify];
    };
  }

  async function find(id: string, scope: OrgScope): Promise<BreakGlassGrantRow> {
    const grant = await grants.find(id);
    if (!grant || !reaches(scope, grant.organizationId)) throw notFound('no such break-glass grant');
    return grant;
  }

  /** Why a change that lost (to time, or to another request) was not made. */
  async function refusal(id: string, what: string): Promise<IdpError> {
    const current = await grants.find(id);
    return conflict(`the grant cannot be ${what}: it is ${current ? grantState(current, clock.now()) : 'gone'}`);
  }

  /** A four-eyes refusal changes nothing, so it goes with the request's other events (stored before the answer). */
  const refused = (type: string, g: BreakGlassGrantRow, by: Caller) =>
    deps.audit.record({
      type,
      outcome: 'failure',
      actor: by.actor,
      ip: by.ip,
      requestId: by.requestId,
      subject: g.id,
      organizationId: g.organizationId,
      data: { grant_id: g.id, user_id: g.userId, reason: 'same_key_as_requester' },
    });

  const view = (g: BreakGlassGrantRow) => ({ break_glass: breakGlassView(g, clock.now()) });

  return {
    async request(input: BreakGlassRequestInput, by: KeyCaller) {
      const max = deps.config.breakGlass.maxDurationSeconds;
      if (input.duration > max) throw badRequest(`duration: at most ${max} seconds on this server`);
      const user = await deps.accounts.findById(input.user_id);
      if (!user || !reaches(by, user.organizationId)) throw notFound('no such user');
      const grant = await grants.create(
        {
          userId: user.id,
          organizationId: user.organizationId,
          reason: input.reason,
          durationSeconds: input.duration,
          permissions: input.permissions,
          notifyAdmins: input.notify_admins,
          requestedBy: by.actor ?? 'unknown',
          requestedByKey: by.keyId,
          requestedAt: now(),
        },
        events('break_glass.requested', 'requested', by, { duration: input.duration, permissions: input.permissions, reason: input.reason }),
      );
      metrics.breakGlass.inc({ event: 'requested' });
      return view(grant);
    },

    async approve(id: string, by: KeyCaller) {
      const grant = await find(id, by);
      const self = grant.requestedByKey === by.keyId;
      if (self && !(await deps.settings.effective(grant.organizationId)).break_glass.allow_self_approval) {
        await refused('break_glass.approval_refused', grant, by);
        throw new IdpError('self_approval_refused', 'a break-glass request must be approved by another API key than the one that made it');
      }
      const approvedEvents = events('break_glass.approved', 'approved', by, { self_approved: self });
      const approved = await grants.approve(id, { decidedBy: by.actor ?? 'unknown', selfApproved: self, at: now() }, approvedEvents);
      if (!approved) throw await refusal(id, 'approved');
      deps.approved?.(approvedEvents(approved));
      metrics.breakGlass.inc({ event: self ? 'self_approved' : 'approved' });
      return view(approved);
    },

    async deny(id: string, by: KeyCaller) {
      await find(id, by);
      const denied = await grants.deny(id, { decidedBy: by.actor ?? 'unknown', at: now() }, events('break_glass.denied', undefined, by));
      if (!denied) throw await refusal(id, 'denied');
      metrics.breakGlass.inc({ event: 'denied' });
      return view(denied);
    },

    /**
     * Ends an active grant early, then every session of its user: the sessions it elevated end with
     * back-channel logout, and refresh tokens minted under it are revoked with their grants, so no
     * token carries it again (a refresh answers invalid_grant).
     */
    async revoke(id: string, by: KeyCaller) {
      await find(id, by);
      const revoked = await grants.revoke(id, { revokedBy: by.actor ?? 'unknown', at: now() }, events('break_glass.revoked', undefined, by));
      if (!revoked) throw await refusal(id, 'revoked');
      metrics.breakGlass.inc({ event: 'revoked' });
      const ended = await deps.sessions.endOtherSessions(revoked.userId);
      await deps.audit.record({
        type: 'authn.sessions.ended',
        outcome: 'success',
        actor: by.actor,
        ip: by.ip,
        requestId: by.requestId,
        subject: revoked.userId,
        organizationId: revoked.organizationId,
        data: { count: ended, reason: 'break_glass.revoked', grant_id: revoked.id },
      });
      return view(revoked);
    },

    /** The one review every ended grant needs, by another key than the one that asked for it. */
    async review(id: string, input: BreakGlassReviewInput, by: KeyCaller) {
      const grant = await find(id, by);
      if (grant.requestedByKey === by.keyId) {
        await refused('break_glass.review_refused', grant, by);
        throw new IdpError('self_review_refused', 'a break-glass grant must be reviewed by another API key than the one that requested it');
      }
      const reviewed = await grants.review(
        id,
        { reviewedBy: by.actor ?? 'unknown', at: now(), outcome: input.outcome, notes: input.notes ?? null },
        events('break_glass.reviewed', undefined, by, { outcome: input.outcome }),
      );
      if (!reviewed) throw await refusal(id, 'reviewed');
      metrics.breakGlass.inc({ event: 'reviewed' });
      return view(reviewed);
    },

    get: async (id: string, scope: OrgScope) => view(await find(id, scope)),

    async list(q: BreakGlassListQuery, scope: OrgScope) {
      const rows = await grants.list({
        ...(scope.organizationId !== null && { organizationId: scope.organizationId }),
        ...(q.status !== undefined && { state: q.status }),
        at: now(),
        after: decodeCursor(q.cursor),
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      return { break_glass: page.map((g) => breakGlassView(g, clock.now())), next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!) : null };
    },
  };
}

export type BreakGlassService = ReturnType<typeof createBreakGlassService>;
