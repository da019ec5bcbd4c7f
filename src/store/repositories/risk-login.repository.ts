import type { Db } from '../db.js';
import type { RiskLoginRow } from '../database.js';

export type NewRiskLogin = Omit<RiskLoginRow, 'id'>;

/** The bounds of a user's login history: the newest `keep` rows, none older than `maxAgeMs`. */
export interface RiskRetention {
  keep: number;
  maxAgeMs: number;
}

export function createRiskLoginRepository(db: Db) {
  return {
    /** The user's newest logins first, within the retention bounds. */
    recent: (userId: string, retention: RiskRetention, now: number): Promise<RiskLoginRow[]> =>
      db
        .selectFrom('riskLogins')
        .selectAll()
        .where('userId', '=', userId)
        .where('at', '>', new Date(now - retention.maxAgeMs))
        .orderBy('at', 'desc')
        .limit(retention.keep)
        .execute(),
    /** Adds one login and, in the same transaction, drops the user's rows beyond the bounds. */
    async record(login: NewRiskLogin, retention: RiskRetention, now: number): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('riskLogins').values(login).execute();
        const kept = trx
          .selectFrom('riskLogins')
          .select('id')
          .where('userId', '=', login.userId)
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(retention.keep);
        await trx
          .deleteFrom('riskLogins')
          .where('userId', '=', login.userId)
          .where((eb) => eb.or([eb('at', '<=', new Date(now - retention.maxAgeMs)), eb('id', 'not in', kept)]))
          .execute();
      });
    },
    /** Drops every row older than the age bound (users who stopped signing in are pruned here). */
    async sweep(maxAgeMs: number, now: number): Promise<void> {
      await db
        .deleteFrom('riskLogins')
        .where('at', '<=', new Date(now - maxAgeMs))
        .execute();
    },
  };
}

export type RiskLoginRepository = ReturnType<typeof createRiskLoginRepository>;
