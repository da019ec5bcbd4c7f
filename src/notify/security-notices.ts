import type { MailValue } from '../delivery/delivery.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';

/**
 * What the account's owner is told, never a code, token, address or phone number. The words are
 * the `email` catalogue's (`notice.<notice>.title` and `.body`), in the owner's language.
 */
export interface SecurityNotice {
  userId: string;
  /** The audit event's type. Equal notices (kind and `values`) of one user within a short window are sent once. */
  kind: string;
  notice: string;
  values: Record<string, MailValue>;
  /** When and from where, told after the body. */
  at: Date;
  ip?: string;
}

type Told = Pick<SecurityNotice, 'userId' | 'notice' | 'values'>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const term = (group: string, v: unknown) => ({ term: `${group}.${str(v) ?? 'unknown'}` });
const about = (userId: string | null | undefined, notice: string, values: Record<string, MailValue> = {}): Told | undefined =>
  userId ? { userId, notice, values } : undefined;

/** The events the owner of an account hears of, and whose account each is about. */
const NOTICES: Record<string, (e: AuditRecord) => Told | undefined> = {
  'authn.factor.enrolled': (e) => about(e.subject, 'factor_enrolled', { method: term('method', e.data?.method) }),
  'authn.backup_codes.regenerated': (e) => about(e.subject, 'backup_codes_regenerated'),
  'authn.security_answers.changed': (e) => about(e.subject, 'security_answers_changed'),
  'authn.totp.replayed': (e) => about(e.subject, 'totp_replayed'),
  'authn.device.trusted': (e) => about(e.subject, 'device_trusted', { count: Number(e.data?.days) || 0 }),
  'break_glass.approved': (e) => about(str(e.data?.user_id), 'break_glass_approved'),
  'recovery.requested': (e) => about(e.subject, 'recovery_requested', { method: term('recovery_method', e.data?.method) }),
};

/** The notice a stored audit event calls for, if any. */
export function noticeOf(e: AuditRecord): SecurityNotice | undefined {
  const notice = Object.hasOwn(NOTICES, e.type) ? NOTICES[e.type]!(e) : undefined;
  if (!notice) return undefined;
  return { ...notice, kind: e.type, at: e.at ?? new Date(), ...(e.ip ? { ip: e.ip } : {}) };
}
