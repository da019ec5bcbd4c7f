import type { Recommendation, RiskSettings } from './types.js';

/**
 * The assessment's score: 1 − Π(1 − sᵢ·wᵢ) over the signals (score sᵢ, weight wᵢ, both 0..1),
 * the chance that at least one signal is right if each alone is right with probability sᵢ·wᵢ.
 * One strong signal is enough to score high, independent weak ones add up, none can lower
 * another's contribution, and a signal of weight 1 at full score makes the whole score 1.
 */
export function combine(parts: readonly { score: number; weight: number }[]): number {
  const clear = parts.reduce((acc, { score, weight }) => acc * (1 - Math.min(1, Math.max(0, score)) * weight), 1);
  return Math.round((1 - clear) * 1000) / 1000;
}

/** At or above `deny_threshold`: deny; at or above `challenge_threshold`: challenge; below both: allow. */
export function recommend(score: number, settings: Pick<RiskSettings, 'challenge_threshold' | 'deny_threshold'>): Recommendation {
  if (score >= settings.deny_threshold) return 'deny';
  if (score >= settings.challenge_threshold) return 'challenge';
  return 'allow';
}
