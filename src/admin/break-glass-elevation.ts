import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import type { Metrics } from '../lib/metrics.js';
import { aalFromAcr } from '../policy/assurance.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { Aal } from '../policy/types.js';
import type { BreakGlassRepository } from '../store/repositories/break-glass.repository.js';

/** A grant active for a user now, as logins and token issuance use it. */
export interface ActiveElevation {
  id: string;
  organizationId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  permissions: string[];
  /** What a login must reach for its tokens to carry the grant: the organisation's `break_glass.min_acr`. */
  minAal: Aal;
  notifyAdmins: boolean;
}

export interface BreakGlassElevationDeps {
  grants: Pick<BreakGlassRepository, 'activeFor' | 'markFirstUse'>;
  settings: Pick<SettingsService, 'effective'>;
  audit: Pick<AuditService, 'record'>;
  metrics: Pick<Metrics, 'breakGlass'>;
  clock: Clock;
}

/**
 * What an active grant changes outside the admin API: logins of its user must reach the
 * organisation's `break_glass.min_acr`, and tokens minted meanwhile carry it. Whether a grant is
 * active is read from `expires_at` against the clock at each use, so it ends on every node at the
 * same instant with no job.
 */
export function createBreakGlassElevation(deps: BreakGlassElevationDeps) {
  const { clock } = deps;

  async function activeFor(userId: string): Promise<ActiveElevation | undefined> {
    const grant = await deps.grants.activeFor(userId, new Date(clock.now()));
    if (!grant?.expiresAt) return undefined;
    const settings = await deps.settings.effective(grant.organizationId);
    return {
      id: grant.id,
      organizationId: grant.organizationId,
      expiresAt: Math.floor(grant.expiresAt.getTime() / 1000),
      permissions: grant.permissions,
      minAal: aalFromAcr(settings.break_glass.min_acr) ?? 2,
      notifyAdmins: grant.notifyAdmins,
    };
  }

  return {
    activeFor,

    /** The assurance floor an active grant adds to the user's login decisions, if any. */
    async floorFor(userId: string): Promise<{ grantId: string; minAal: Aal } | undefined> {
      const active = await activeFor(userId);
      return active && { grantId: active.id, minAal: active.minAal };
    },

    /**
     * Records that tokens carrying the grant were issued (or read at userinfo). Stored with the
     * request's other events: if that write fails, the request fails and no token goes out. The
     * first use is noticed once across nodes (compare-and-set), and told to the admins when asked.
     */
    async used(grant: ActiveElevation, userId: string, use: { clientId?: string; route: string }): Promise<void> {
      const base = { outcome: 'success' as const, subject: grant.id, organizationId: grant.organizationId, clientId: use.clientId };
      const data = { grant_id: grant.id, user_id: userId, client_id: use.clientId ?? null, route: use.route };
      await deps.audit.record({ ...base, type: 'break_glass.used', data });
      deps.metrics.breakGlass.inc({ event: 'used' });
      if ((await deps.grants.markFirstUse(grant.id, new Date(clock.now()))) && grant.notifyAdmins)
        await deps.audit.record({ ...base, type: 'break_glass.notification', data: { ...data, stage: 'first_use' } });
    },
  };
}

export type BreakGlassElevation = ReturnType<typeof createBreakGlassElevation>;
