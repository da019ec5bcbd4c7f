import type { AuditTrailService } from '../../admin/audit-trail.service.js';
import type { User } from '../../store/database.js';

const DAYS = 30;
const PAGE = 500;
/** Enough pages for a busy month; the newest events are the ones kept. */
const MAX_PAGES = 10;

/** One event of the user's own trail, as the console words it: the catalogue key is the type with `_` for `.`. */
export interface ActivityItem {
  at: string;
  key: string;
  type: string;
  outcome: string;
  ip: string | null;
  method: string | null;
  client: string | null;
}

/**
 * The user's own security events of the last 30 days, newest first: the audit trail's events whose
 * subject is the user (what they did, and what was done to their account), confined to their organisation.
 */
export async function recentActivity(trail: Pick<AuditTrailService, 'list'>, user: User, now: number, limit: number): Promise<ActivityItem[]> {
  const from = new Date(now - DAYS * 86_400_000).toISOString();
  let kept: ActivityItem[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { events, next_cursor } = await trail.list(
      { subject: user.id, from, limit: PAGE, ...(cursor ? { cursor } : {}) },
      { organizationId: user.organizationId },
    );
    kept = [...kept, ...events.map(toItem)].slice(-limit);
    if (!next_cursor) break;
    cursor = next_cursor;
  }
  return kept.reverse();
}

function toItem(e: { at: string; type: string; outcome: string; ip: string | null; client_id: string | null; data: unknown }): ActivityItem {
  const data = (e.data ?? {}) as Record<string, unknown>;
  const method = typeof data.method === 'string' ? data.method : typeof data.factor === 'string' ? data.factor : null;
  return { at: e.at, key: e.type.replace(/\./g, '_'), type: e.type, outcome: e.outcome, ip: e.ip, method, client: e.client_id };
}
