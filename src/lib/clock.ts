/** Time source; tests swap in a controllable one to exercise expiry without sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * "Last used" timestamps are informational: written at most once a minute per row, so that a key
 * or device used on every request does not turn every request into a write.
 */
export const lastUsedIsStale = (last: Date | null, now: number): boolean => last === null || now - last.getTime() >= 60_000;
