import type { BucketUnit } from '../store/repositories/analytics.repository.js';

export const DAY_MS = 86_400_000;

/** The start of the UTC calendar bucket holding `t`: its day, its ISO week's Monday, its month's first day (as `date_trunc` in SQL). */
export function bucketStart(t: Date, unit: BucketUnit): Date {
  const day = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  if (unit === 'day') return day;
  if (unit === 'week') return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY_MS);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

function nextBucket(start: Date, unit: BucketUnit): Date {
  if (unit === 'day') return new Date(start.getTime() + DAY_MS);
  if (unit === 'week') return new Date(start.getTime() + 7 * DAY_MS);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

/** The starts of the buckets that meet `[from, to)`, as ISO dates; the first may begin before `from`. */
export function bucketsOf(from: Date, to: Date, unit: BucketUnit): string[] {
  const out: string[] = [];
  for (let b = bucketStart(from, unit); b < to; b = nextBucket(b, unit)) out.push(isoDay(b));
  return out;
}

export const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
