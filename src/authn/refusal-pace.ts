import { randomInt } from 'node:crypto';

/**
 * How long the account writes of a counted wrong password take (reserving the check, then
 * counting the failure), learnt from recent ones. A refusal that skips them, for an unknown user
 * or a locked account, waits as long instead, so that it cannot be told apart by timing (ASVS 5.0
 * 6.3.8); the hash comparison, the larger cost, every path does itself. Only the database part is
 * learnt, not the hash: a burst of guesses that queues the hash comparisons does not slow every
 * later refusal.
 */
export function createRefusalPace(samples = 16) {
  const recent: number[] = [];
  return {
    record(ms: number): void {
      recent.push(ms);
      if (recent.length > samples) recent.shift();
    },
    /**
     * One of the recent durations, drawn at random, so that waits are spread as the writes are,
     * not just as long on average; 0 until a wrong password has been counted.
     */
    writesMs(): number {
      return recent.length === 0 ? 0 : recent[randomInt(recent.length)]!;
    },
  };
}

export type RefusalPace = ReturnType<typeof createRefusalPace>;
