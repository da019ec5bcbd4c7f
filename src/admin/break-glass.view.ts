import type { BreakGlassGrantRow } from '../store/database.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** How a grant stands at `now`: approved grants are active until `expires_at`, then expired. */
export function grantState(g: BreakGlassGrantRow, now: number): 'pending_approval' | 'active' | 'expired' | 'denied' | 'revoked' {
  if (g.status !== 'approved') return g.status;
  return g.expiresAt && g.expiresAt.getTime() > now ? 'active' : 'expired';
}

/** An ended grant (expired or revoked) waits for its review. */
export const awaitsReview = (g: BreakGlassGrantRow, now: number): boolean => {
  const state = grantState(g, now);
  return (state === 'expired' || state === 'revoked') && g.reviewedAt === null;
};

/** A grant as the API answers it; `status` is computed from the clock, so it needs no job to change. */
export function breakGlassView(g: BreakGlassGrantRow, now: number) {
  return {
    id: g.id,
    user_id: g.userId,
    organization_id: g.organizationId,
    status: grantState(g, now),
    pending_review: awaitsReview(g, now),
    reason: g.reason,
    duration: g.durationSeconds,
    permissions: g.permissions,
    notify_admins: g.notifyAdmins,
    requested_by: g.requestedBy,
    requested_at: g.requestedAt.toISOString(),
    decided_by: g.decidedBy,
    decided_at: iso(g.decidedAt),
    self_approved: g.selfApproved,
    starts_at: iso(g.startsAt),
    expires_at: iso(g.expiresAt),
    revoked_by: g.revokedBy,
    revoked_at: iso(g.revokedAt),
    first_used_at: iso(g.firstUsedAt),
    review: g.reviewedAt ? { outcome: g.reviewOutcome, notes: g.reviewNotes, reviewed_by: g.reviewedBy, reviewed_at: iso(g.reviewedAt) } : null,
  };
}
