import type { Db } from '../db.js';

/** The audit events that are a failed sign-in attempt (a wrong password, a wrong second factor). */
const FAILED_ATTEMPTS = ['authn.login.failed', 'authn.mfa.failed'];

/** Failed sign-in attempts as the audit trail holds them, counted per account or per client address. */
export function createFailedAttemptRepository(db: Db) {
  const count = async (column: 'subject' | 'ip', values: readonly string[], since: Date): Promise<number> => {
    const row = await db
      .selectFrom('auditEvents')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where(column, 'in', values)
      .where('outcome', '=', 'failure')
      .where('type', 'in', FAILED_ATTEMPTS)
      .where('at', '>', since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return {
    forAccount: (userId: string, since: Date) => count('subject', [userId], since),
    /** `spellings`: the forms one address may be stored under (an IPv4 address also as IPv4-mapped IPv6). */
    forIp: (spellings: readonly string[], since: Date) => count('ip', spellings, since),
  };
}

export type FailedAttemptRepository = ReturnType<typeof createFailedAttemptRepository>;
