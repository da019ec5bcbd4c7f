import type { CodeDelivery, MailDelivery, MailValue } from '../delivery/delivery.js';
import { verifiedEmails, verifiedPhones, type RecipientDeps } from '../notify/recipients.js';
import type { User } from '../store/database.js';

export interface RecoveryMailDeps extends RecipientDeps {
  mail: MailDelivery;
  codes: CodeDelivery;
  /** Links are built from the configured issuer only, never from a request's Host or forwarding headers. */
  issuer: string;
}

/** The messages of a recovery: the link or code that confirms it, and the owner's notices with the cancel link. */
export function createRecoveryMail(deps: RecoveryMailDeps) {
  const origin = new URL(deps.issuer).origin;
  // The token rides in the fragment, which no browser sends to a server or writes to an access log.
  const link = (id: string, action: 'confirm' | 'cancel', token: string) => `${origin}/api/v1/recovery/${id}/${action}#token=${token}`;
  // Each message in its recipient's language (their own, else their organisation's), greeting them by name.
  const addressed = (user: User) => ({ organizationId: user.organizationId, locale: user.locale, name: user.name });
  const notice = (user: User, to: string, kind: string, values: Record<string, MailValue>, url?: string) =>
    deps.mail.send({ to, template: 'security-notice', data: { notice: kind, values, ...(url ? { link: url } : {}) }, ...addressed(user) });
  const nameOf = (user: User): MailValue => user.username ?? { term: 'someone' };

  return {
    emailsOf: (user: User) => verifiedEmails(deps, user),
    phonesOf: (user: User) => verifiedPhones(deps, user),

    async sendLink(user: User, to: readonly string[], id: string, token: string): Promise<void> {
      const data = { link: link(id, 'confirm', token), minutes: 30 };
      await Promise.all(to.map((a) => deps.mail.send({ to: a, template: 'recovery-link', data, ...addressed(user) })));
    },

    /**
     * One code to every verified number, checked against the one hash the request keeps. No fresh code
     * is offered for a failover (`codeFor`): replacing that hash would void the code another number
     * already got. So a provider that may have sent it ends that number's failover (delivery_failed,
     * logged) rather than the same code reaching the phone twice; the code already out stays valid.
     */
    async sendCode(user: User, to: readonly string[], code: string): Promise<void> {
      await Promise.all(to.map((n) => deps.codes.send({ channel: 'sms', to: n, code, purpose: 'recovery', ...addressed(user), accountId: user.id })));
    },

    /** To every verified address of the owner once a request is confirmed: the real owner can still cancel it. */
    async sendWaiting(user: User, id: string, cancelToken: string, readyAt: Date): Promise<void> {
      const to = await verifiedEmails(deps, user);
      await Promise.all(to.map((a) => notice(user, a, 'recovery_waiting', { ready_at: readyAt }, link(id, 'cancel', cancelToken))));
    },

    /** To each trusted contact: who asks, and where to approve while signed in. */
    async askContacts(user: User, contacts: readonly User[], id: string): Promise<void> {
      const values = { username: nameOf(user), url: `${origin}/api/v1/me/recovery-approvals/${id}` };
      await Promise.all(contacts.map(async (c) => Promise.all((await verifiedEmails(deps, c)).map((a) => notice(c, a, 'recovery_approval', values)))));
    },

    /** To a user newly named as someone's trusted contact. */
    async toldNamed(user: User, contacts: readonly User[]): Promise<void> {
      const values = { username: nameOf(user) };
      await Promise.all(contacts.map(async (c) => Promise.all((await verifiedEmails(deps, c)).map((a) => notice(c, a, 'trusted_contact_named', values)))));
    },
  };
}

export type RecoveryMail = ReturnType<typeof createRecoveryMail>;
