import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { IdpError, badRequest, conflict, notFound } from '../lib/errors.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { User } from '../store/database.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { RecoveryRequestRepository } from '../store/repositories/recovery-request.repository.js';
import type { TrustedContactRepository } from '../store/repositories/trusted-contact.repository.js';
import type { RecoveryMail } from './recovery-mail.js';
import { recoveryState } from './recovery-view.js';
import type { RecoveryMeta, RecoveryService } from './recovery.service.js';

export interface TrustedContactDeps {
  accounts: Pick<AccountRepository, 'findById'>;
  contacts: TrustedContactRepository;
  requests: Pick<RecoveryRequestRepository, 'find' | 'approve' | 'cancel'>;
  recovery: Pick<RecoveryService, 'waitFrom' | 'waiting' | 'audit'>;
  settings: Pick<SettingsService, 'effective'>;
  mail: Pick<RecoveryMail, 'toldNamed'>;
  audit: Pick<AuditService, 'record'>;
  clock: Clock;
  logger: Pick<Logger, 'error'>;
}

/**
 * Trusted contacts: other users of the organisation a user names (up to the organisation's
 * maximum) to vouch for them when every factor is lost. Each approves a request once, signed in
 * with their own recent second factor; the number the organisation requires starts the waiting period.
 */
export function createTrustedContactService(deps: TrustedContactDeps) {
  const { contacts, requests, clock } = deps;

  return {
    async list(user: User) {
      const { recovery } = await deps.settings.effective(user.organizationId);
      return { contacts: await contacts.list(user.id), max: recovery.trusted_contacts_max, required: recovery.trusted_contacts_required };
    },

    /** Replaces the user's contacts; each newly named one is told. */
    async replace(user: User, userIds: readonly string[], meta: RecoveryMeta) {
      const ids = [...new Set(userIds)];
      const { recovery } = await deps.settings.effective(user.organizationId);
      if (ids.length > recovery.trusted_contacts_max) throw badRequest(`user_ids: at most ${recovery.trusted_contacts_max} trusted contacts`);
      if (ids.includes(user.id)) throw badRequest('user_ids: a user cannot be their own trusted contact');
      const eligible = await contacts.activeInOrganization(user.organizationId, ids);
      if (eligible.length !== ids.length) throw badRequest('user_ids: each must be an active user of your organization');
      const before = new Set((await contacts.list(user.id)).map((c) => c.id));
      await contacts.replace(user.id, ids);
      await deps.audit.record({
        type: 'recovery.contacts.changed',
        outcome: 'success',
        actor: `user:${user.id}`,
        subject: user.id,
        organizationId: user.organizationId,
        ip: meta.ip,
        requestId: meta.requestId,
        data: { contacts: ids },
      });
      const added = (await Promise.all(ids.filter((id) => !before.has(id)).map((id) => deps.accounts.findById(id)))).filter((c): c is User => c !== undefined);
      // The contacts are named whether or not the courtesy message gets out.
      await deps.mail.toldNamed(user, added).catch((err: unknown) => deps.logger.error({ err, userId: user.id }, 'trusted contacts could not be told'));
      return this.list(user);
    },

    /**
     * A contact's decision on a request: an approval counts once per contact; a refusal ends the
     * request. Anyone but the user's own contacts is refused, the user themself included.
     */
    async decide(contact: User, requestId: string, approve: boolean, meta: RecoveryMeta) {
      const r = await requests.find(requestId);
      if (!r || r.method !== 'trusted_contacts') throw notFound('no such recovery request');
      if (r.userId === contact.id || !(await contacts.isContact(r.userId, contact.id))) {
        throw new IdpError('access_denied', 'only a trusted contact of the account may decide on its recovery');
      }
      const by = { ...meta, actor: `user:${contact.id}` };
      if (!approve) {
        const cancelled = await requests.cancel(r.id, `user:${contact.id}`, new Date(clock.now()));
        if (!cancelled) throw conflict(`the recovery request is ${recoveryState(r, clock.now())}`);
        await deps.recovery.audit('recovery.cancelled', cancelled, by, { by: 'trusted_contact' });
        return { status: 'cancelled' };
      }
      const { wait, cancelToken } = await deps.recovery.waitFrom(r);
      const approved = await requests.approve(r.id, contact.id, wait);
      if (!approved) {
        if (r.approvals.includes(contact.id)) throw conflict('you have already approved this recovery request');
        throw conflict(`the recovery request is ${recoveryState(r, clock.now())}`);
      }
      await deps.recovery.audit('recovery.approved', approved, by, { approvals: approved.approvals.length, required: approved.requiredApprovals });
      if (approved.status === 'waiting') await deps.recovery.waiting(approved, cancelToken, by);
      return { status: recoveryState(approved, clock.now()), approvals: approved.approvals.length, required_approvals: approved.requiredApprovals };
    },
  };
}

export type TrustedContactService = ReturnType<typeof createTrustedContactService>;
