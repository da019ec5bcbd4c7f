import type { RiskSignal } from '../types.js';
import { clamp01, notApplicable } from './outcome.js';

/** Fewer past logins than this are no pattern to deviate from. */
const MIN_LOGINS = 5;

const hourOf = (at: number) => new Date(at).getUTCHours();
/** Hours apart on a 24-hour clock (23:00 and 01:00 are two hours apart). */
const hoursApart = (a: number, b: number) => Math.min(Math.abs(a - b), 24 - Math.abs(a - b));

/**
 * An hour of the day (UTC) far from every hour the user signed in at before: within an hour of a
 * usual one scores nothing, four hours or more from all of them scores fully.
 */
export const unusualHour: RiskSignal = {
  name: 'unusual_hour',
  weight: 0.3,
  async evaluate({ context, facts }) {
    const history = await facts.history();
    if (!history) return notApplicable('no_user');
    const hour = hourOf(context.at);
    if (history.length < MIN_LOGINS) return { score: 0, evidence: { hour, logins: history.length, baseline: 'insufficient' } };
    const nearest = Math.min(...history.map((h) => hoursApart(hour, hourOf(h.at.getTime()))));
    return { score: clamp01((nearest - 1) / 3), evidence: { hour, hours_from_usual: nearest, logins: history.length } };
  },
};
