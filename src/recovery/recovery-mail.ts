import type { CodeDelivery, MailDelivery } from '../delivery/delivery.js';
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
  const notice = (user: User, to: string, title: string, lines: string[], url?: string) =>
    deps.mail.send({ to, template: 'security-notice', data: { title, lines, ...(url ? { link: url } : {}) }, organizationId: user.organizationId });

  return {
    emailsOf: (user: User) => verifiedEmails(deps, user),
    phonesOf: (user: User) => verifiedPhones(deps, user),

    async sendLink(user: User, to: readonly string[], id: string, token: string): Promise<void> {
      const url = link(id, 'confirm', token);
      const lines = ['Someone asked to recover your account. If it was you, open the link within 30 minutes (POST the token to the address).'];
      await Promise.all(to.map((a) => notice(user, a, 'Recover your account', lines, url)));
    },

    /**
     * One code to every verified number, checked against the one hash the request keeps. No fresh code
     * is offered for a failover (`codeFor`): replacing that hash would void the code another number
     * already got. So a provider that may have sent it ends that number's failover (delivery_failed,
     * logged) rather than the same code reaching the phone twice; the code already out stays valid.
     */
    async sendCode(user: User, to: readonly string[], code: string): Promise<void> {
      await Promise.all(
        to.map((n) => deps.codes.send({ channel: 'sms', to: n, code, purpose: 'recovery', organizationId: user.organizationId, accountId: user.id })),
      );
    },

    /** To every verified address of the owner once a request is confirmed: the real owner can still cancel it. */
    async sendWaiting(user: User, id: string, cancelToken: string, readyAt: Date): Promise<void> {
      const lines = [
        `A recovery of your account was confirmed. From ${readyAt.toISOString()} it allows a new sign-in factor to be added.`,
        'If this was not you, cancel it now with the link (POST the token to the address).',
      ];
      const to = await verifiedEmails(deps, user);
      await Promise.all(to.map((a) => notice(user, a, 'Your account is being recovered', lines, link(id, 'cancel', cancelToken))));
    },

    /** To each trusted contact: who asks, and where to approve while signed in. */
    async askContacts(user: User, contacts: readonly User[], id: string): Promise<void> {
      const lines = [
        `${user.username ?? 'A user'} asked to recover their account and named you as a trusted contact.`,
        `Only if you have confirmed with them in person or by phone, approve it while signed in: POST ${origin}/api/v1/me/recovery-approvals/${id} {"approve": true}.`,
      ];
      await Promise.all(
        contacts.map(async (c) => Promise.all((await verifiedEmails(deps, c)).map((a) => notice(c, a, 'A recovery needs your approval', lines)))),
      );
    },

    /** To a user newly named as someone's trusted contact. */
    async toldNamed(user: User, contacts: readonly User[]): Promise<void> {
      const lines = [`${user.username ?? 'A user'} named you as a trusted contact: you may be asked to approve a recovery of their account.`];
      await Promise.all(
        contacts.map(async (c) => Promise.all((await verifiedEmails(deps, c)).map((a) => notice(c, a, 'You were named a trusted contact', lines)))),
      );
    },
  };
}

export type RecoveryMail = ReturnType<typeof createRecoveryMail>;
