import type { Caller } from '../admin/changed-by.js';
import { findReachable } from '../admin/user.service.js';
import type { Clock } from '../lib/clock.js';
import { conflict, notFound } from '../lib/errors.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { RecoveryRequestRepository } from '../store/repositories/recovery-request.repository.js';
import { recoveryState, recoveryView } from './recovery-view.js';
import type { RecoveryService } from './recovery.service.js';

export interface RecoveryAdminDeps {
  accounts: Pick<AccountRepository, 'findById'>;
  requests: Pick<RecoveryRequestRepository, 'find' | 'listForUser' | 'cancel'>;
  recovery: Pick<RecoveryService, 'audit'>;
  clock: Clock;
}

/** An administrator's view of a user's recovery requests, and their cancellation. */
export function createRecoveryAdminService(deps: RecoveryAdminDeps) {
  const { requests, clock } = deps;
  return {
    async list(userId: string, by: Caller) {
      const user = await findReachable(deps.accounts, userId, by);
      return { recovery_requests: (await requests.listForUser(user.id, 100)).map((r) => recoveryView(r, clock.now())) };
    },

    async cancel(userId: string, requestId: string, by: Caller): Promise<void> {
      const user = await findReachable(deps.accounts, userId, by);
      const r = await requests.find(requestId);
      if (!r || r.userId !== user.id) throw notFound('no such recovery request');
      const cancelled = await requests.cancel(r.id, by.actor ?? 'admin', new Date(clock.now()));
      if (!cancelled) throw conflict(`the recovery request is ${recoveryState(r, clock.now())}`);
      await deps.recovery.audit(
        'recovery.cancelled',
        cancelled,
        { actor: by.actor ?? undefined, ip: by.ip ?? undefined, requestId: by.requestId ?? undefined },
        { by: 'admin' },
      );
    },
  };
}

export type RecoveryAdminService = ReturnType<typeof createRecoveryAdminService>;
