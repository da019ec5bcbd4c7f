import { createRequire } from 'node:module';
import { sql } from 'kysely';
import { RateLimiterRes, type RateLimiterStoreAbstract as StoreAbstract } from 'rate-limiter-flexible';
import type { Db } from '../db.js';

// The package's entry does not export the base class its own stores extend (its declarations do).
const RateLimiterStoreAbstract = createRequire(import.meta.url)('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js') as typeof StoreAbstract;

interface Counted {
  value: string;
  expiresAt: Date;
}

/**
 * rate-limiter-flexible's store hooks over the ephemeral entries table, for deployments without
 * Redis (PostgreSQL alone, or embedded PGlite, which the library's own SQL stores do not drive):
 * one upsert per consumption, so that every node counts together and a window starts with its
 * first hit. Expired rows go with the table's sweep.
 */
export class RateLimiterSql extends RateLimiterStoreAbstract {
  constructor(
    private readonly db: Db,
    opts: { keyPrefix: string; points: number; duration: number },
  ) {
    super({ ...opts, storeClient: db });
  }

  async _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<Counted> {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + msDuration);
    const restart = sql<boolean>`(${forceExpire} or ephemeral_entries.expires_at <= ${now})`;
    return this.db
      .insertInto('ephemeralEntries')
      .values({ key: rlKey, value: String(points), expiresAt })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          value: sql`case when ${restart} then ${String(points)} else (ephemeral_entries.value::int + ${points})::text end`,
          expiresAt: sql`case when ${restart} then excluded.expires_at else ephemeral_entries.expires_at end`,
        }),
      )
      .returning(['value', 'expiresAt'])
      .executeTakeFirstOrThrow();
  }

  async _get(rlKey: string): Promise<Counted | null> {
    const row = await this.db
      .selectFrom('ephemeralEntries')
      .select(['value', 'expiresAt'])
      .where('key', '=', rlKey)
      .where('expiresAt', '>', new Date())
      .executeTakeFirst();
    return row ?? null;
  }

  async _delete(rlKey: string): Promise<boolean> {
    const res = await this.db.deleteFrom('ephemeralEntries').where('key', '=', rlKey).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, result: Counted): RateLimiterRes {
    const consumed = Number(result.value);
    return new RateLimiterRes(Math.max(this.points - consumed, 0), Math.max(result.expiresAt.getTime() - Date.now(), 0), consumed, consumed === changedPoints);
  }
}
