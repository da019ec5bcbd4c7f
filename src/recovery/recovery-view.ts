import type { RecoveryRequestRow } from '../store/database.js';

/** The state a request is in now: `waiting` turns `ready` at `ready_at`, and an open request past `expires_at` is `expired`. */
export function recoveryState(r: RecoveryRequestRow, now: number): string {
  const open = r.status === 'pending_confirmation' || r.status === 'pending_approvals' || r.status === 'waiting' || r.status === 'completing';
  if (open && r.expiresAt.getTime() <= now) return 'expired';
  if (r.status === 'waiting' && r.readyAt && r.readyAt.getTime() <= now) return 'ready';
  return r.status;
}

/** A request as the API shows it (never a token or hash). */
export const recoveryView = (r: RecoveryRequestRow, now: number) => ({
  id: r.id,
  user_id: r.userId,
  method: r.method,
  status: recoveryState(r, now),
  created_at: r.createdAt.toISOString(),
  expires_at: r.expiresAt.toISOString(),
  ready_at: r.readyAt?.toISOString() ?? null,
  approvals: r.approvals.length,
  required_approvals: r.requiredApprovals,
  completed_at: r.completedAt?.toISOString() ?? null,
  enrolled_method: r.enrolledMethod,
  cancelled_at: r.cancelledAt?.toISOString() ?? null,
  cancelled_by: r.cancelledBy,
});
