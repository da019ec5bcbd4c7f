import type { RiskSignal } from '../types.js';
import { clamp01, notApplicable } from './outcome.js';

/** How far back failed attempts count. */
export const FAILURE_WINDOW_MS = 15 * 60_000;
/** Failures in the window at which each signal is at its full score (an address may be shared: a higher bar). */
const ACCOUNT_SATURATION = 5;
const IP_SATURATION = 20;

const window = (at: number) => new Date(at - FAILURE_WINDOW_MS);

/** Recent failed sign-in attempts (password or second factor) against this account, from any address. */
export const failedAttemptsForAccount: RiskSignal = {
  name: 'failed_attempts_account',
  weight: 0.6,
  async evaluate({ context, facts }) {
    const n = await facts.failedAttemptsForAccount(window(context.at));
    if (n === undefined) return notApplicable('no_user');
    return { score: clamp01(n / ACCOUNT_SATURATION), evidence: { failures: n, window_minutes: FAILURE_WINDOW_MS / 60_000 } };
  },
};

/** Recent failed sign-in attempts from this address, against any account (spraying). */
export const failedAttemptsForIp: RiskSignal = {
  name: 'failed_attempts_ip',
  weight: 0.6,
  async evaluate({ context, facts }) {
    const n = await facts.failedAttemptsForIp(window(context.at));
    return { score: clamp01(n / IP_SATURATION), evidence: { failures: n, window_minutes: FAILURE_WINDOW_MS / 60_000 } };
  },
};
