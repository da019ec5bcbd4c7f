import type { SignalOutcome } from '../types.js';

/**
 * The score of a novelty signal for a user with no login history yet: everything is new then,
 * which says less than something new beside a known pattern, but is not nothing either.
 */
export const NO_BASELINE = 0.5;

/** A signal that has nothing to say about this attempt (no user to compare with). */
export const notApplicable = (reason: string): SignalOutcome => ({ score: 0, evidence: { applicable: false, reason } });

export const clamp01 = (n: number): number => Math.min(1, Math.max(0, n));
