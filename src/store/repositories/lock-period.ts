import { sql, type RawBuilder } from 'kysely';

/**
 * Where a lockout ends, computed inside the statement that counts the attempt: `at` plus
 * `lockMinutes[step]` (the last period for every later step), so periods grow with repeated locks.
 * `step` is a 0-based SQL integer expression over the row being updated.
 */
export const lockUntil = (at: Date, lockMinutes: readonly number[], step: RawBuilder<number>): RawBuilder<Date> =>
  sql<Date>`${at}::timestamptz
    + (array[${sql.join(lockMinutes.map((m) => sql`${m}::int`))}])[least(${step}, ${lockMinutes.length - 1}) + 1] * interval '1 minute'`;
