import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import type { RiskEngine } from '../risk/risk-engine.js';
import type { Assessment } from '../risk/types.js';
import type { User } from '../store/database.js';
import { UUID, type AccountRepository } from '../store/repositories/account.repository.js';
import { reaches, type Caller } from './changed-by.js';

export interface SentinelDeps {
  risk: Pick<RiskEngine, 'assess' | 'record'>;
  accounts: Pick<AccountRepository, 'findById' | 'findByExternalId'>;
  audit: AuditService;
  clock: Clock;
}

export interface SentinelRequest {
  /** The caller's own reference for this assessment (kept in the audit trail). */
  id: string;
  ip: string;
  userAgent: string;
  /** Our user id or the platform's external id. */
  userId?: string;
}

/**
 * The Sentinel API: a platform that runs its own sign-in asks the risk engine about one attempt.
 * An attempt that is not denied is recorded as the user's login, so that a platform's users build
 * the same history as ours (a denied one never is, so an attacker cannot make a place look usual).
 */
export function createSentinelService(deps: SentinelDeps) {
  /** The user the caller may see: another organisation's user is as unknown as an absent one. */
  async function find(ref: string, by: Caller): Promise<User | undefined> {
    const user = (UUID.test(ref) ? await deps.accounts.findById(ref) : undefined) ?? (await deps.accounts.findByExternalId(ref));
    return user && reaches(by, user.organizationId) ? user : undefined;
  }

  return {
    async discover(req: SentinelRequest, by: Caller): Promise<Assessment> {
      const user = req.userId ? await find(req.userId, by) : undefined;
      const at = deps.clock.now();
      const assessment = await deps.risk.assess({
        ip: req.ip,
        userAgent: req.userAgent,
        userId: user?.id,
        organizationId: user?.organizationId ?? by.organizationId,
        at,
      });
      if (user && assessment.recommendation !== 'deny') await deps.risk.record({ userId: user.id, ip: req.ip, userAgent: req.userAgent, at });
      await deps.audit.record({
        type: 'risk.sentinel.assessed',
        outcome: assessment.recommendation === 'deny' ? 'failure' : 'success',
        ...by,
        subject: user?.id ?? null,
        organizationId: user?.organizationId ?? by.organizationId,
        data: {
          sentinel_id: req.id,
          assessed_ip: req.ip,
          user_known: Boolean(user),
          risk_score: assessment.score,
          recommendation: assessment.recommendation,
          signals: Object.fromEntries(assessment.signals.map((s) => [s.name, s.score])),
        },
      });
      return assessment;
    },
  };
}

export type SentinelService = ReturnType<typeof createSentinelService>;
