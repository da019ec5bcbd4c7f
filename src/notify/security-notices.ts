import type { AuditRecord } from '../store/repositories/audit-event.repository.js';

/** What the account's owner is told, never a code, token, address or phone number. */
export interface SecurityNotice {
  userId: string;
  /** Equal notices (kind and `lines`) of one user within a short window are sent once. */
  kind: string;
  title: string;
  lines: string[];
  /** When and from where, told after `lines`. */
  context: string[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The events the owner of an account hears of, and whose account each is about. */
const NOTICES: Record<string, (e: AuditRecord) => Omit<SecurityNotice, 'kind' | 'context'> | undefined> = {
  'authn.factor.enrolled': (e) =>
    e.subject ? { userId: e.subject, title: 'A sign-in factor was added to your account', lines: [`Method: ${str(e.data?.method) ?? 'unknown'}`] } : undefined,
  'authn.backup_codes.regenerated': (e) =>
    e.subject
      ? { userId: e.subject, title: 'New backup codes were created for your account', lines: ['Your previous backup codes no longer work.'] }
      : undefined,
  'authn.security_answers.changed': (e) =>
    e.subject ? { userId: e.subject, title: 'The answers to your security questions were changed', lines: [] } : undefined,
  'authn.totp.replayed': (e) =>
    e.subject
      ? {
          userId: e.subject,
          title: 'An authenticator code of yours was used twice',
          lines: ['A code that had already been used was sent again. If this was not you, someone may be able to see your codes.'],
        }
      : undefined,
  'authn.device.trusted': (e) =>
    e.subject ? { userId: e.subject, title: 'A device was trusted to skip the second factor', lines: [`For ${Number(e.data?.days) || 0} days.`] } : undefined,
  'break_glass.approved': (e) => {
    const userId = str(e.data?.user_id);
    return userId
      ? { userId, title: 'Emergency access was granted on your account', lines: ['An administrator approved an emergency (break-glass) access request.'] }
      : undefined;
  },
  'recovery.requested': (e) =>
    e.subject
      ? {
          userId: e.subject,
          title: 'Account recovery was requested',
          lines: [`Recovery by ${str(e.data?.method) ?? 'unknown'}.`, 'If this was not you, sign in and review your account, or contact your administrator.'],
        }
      : undefined,
};

/** The notice a stored audit event calls for, if any. */
export function noticeOf(e: AuditRecord): SecurityNotice | undefined {
  const notice = Object.hasOwn(NOTICES, e.type) ? NOTICES[e.type]!(e) : undefined;
  if (!notice) return undefined;
  return { ...notice, kind: e.type, context: [`When: ${(e.at ?? new Date()).toISOString()}`, ...(e.ip ? [`From: ${e.ip}`] : [])] };
}
