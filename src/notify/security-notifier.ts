import type { AuditService } from '../audit/audit.service.js';
import type { MailDelivery } from '../delivery/delivery.js';
import { sha256 } from '../lib/crypto.js';
import type { Logger } from '../lib/logger.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import { verifiedEmails, type RecipientDeps } from './recipients.js';
import { noticeOf, type SecurityNotice } from './security-notices.js';

export interface SecurityNotifierDeps extends RecipientDeps {
  accounts: Pick<AccountRepository, 'findById'>;
  mail: MailDelivery;
  ephemeral: Pick<EphemeralStore, 'increment'>;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Notices per user per hour; beyond it they are dropped, so no stream of events can flood a mailbox. */
  perUserPerHour: number;
  /** Equal notices of one user within this many seconds are sent once. */
  collapseSeconds: number;
}

/**
 * Security notices to the account's verified e-mail addresses (OWASP ASVS 5 6.3.7), from the audit
 * trail: the listener only queues, and each notice is sent in the background, so a notice never
 * slows or fails the request that caused it. A per-user hourly cap and the collapsing of equal
 * notices keep repeated events from becoming a mail bomb.
 */
export function createSecurityNotifier(deps: SecurityNotifierDeps) {
  const pending = new Set<Promise<void>>();

  /** Reserved atomically before any slow work: of a burst of events only the first few get through. */
  async function admitted(n: SecurityNotice): Promise<boolean> {
    if ((await deps.ephemeral.increment(`notice-same:${n.userId}:${sha256(`${n.kind}\n${JSON.stringify(n.values)}`)}`, deps.collapseSeconds)) > 1) return false;
    return (await deps.ephemeral.increment(`notice-hour:${n.userId}`, 3600)) <= deps.perUserPerHour;
  }

  async function send(n: SecurityNotice): Promise<void> {
    if (!(await admitted(n))) {
      deps.logger.warn({ kind: n.kind, userId: n.userId }, 'security notice not sent: collapsed or over the per-user cap');
      return;
    }
    const user = await deps.accounts.findById(n.userId);
    if (!user) return;
    const to = await verifiedEmails(deps, user);
    await Promise.all(
      to.map((address) =>
        deps.mail.send({
          to: address,
          template: 'security-notice',
          data: { notice: n.notice, values: n.values, at: n.at, ...(n.ip ? { ip: n.ip } : {}) },
          organizationId: user.organizationId,
          locale: user.locale,
          name: user.name,
        }),
      ),
    );
  }

  function enqueue(n: SecurityNotice): void {
    const job = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => send(n))
      .catch((err: unknown) => deps.logger.error({ err, kind: n.kind, userId: n.userId }, 'a security notice could not be sent'))
      .finally(() => pending.delete(job));
    pending.add(job);
  }

  /** Queues the notices `events` call for. */
  function told(events: readonly AuditRecord[]): void {
    for (const e of events) {
      const notice = noticeOf(e);
      if (notice) enqueue(notice);
    }
  }

  return {
    /** Subscribes to the audit trail. */
    attach(audit: Pick<AuditService, 'subscribe'>): void {
      audit.subscribe(async (events) => told(events));
    },
    /** Events stored outside the audit service (inside a transaction of their own), once committed. */
    told,
    /** Resolves once the notices queued so far are sent (or failed): for shutdown and tests. */
    async idle(): Promise<void> {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}

export type SecurityNotifier = ReturnType<typeof createSecurityNotifier>;
