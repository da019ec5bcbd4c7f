import crypto from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { hmac, randomToken, safeEqual } from '../../lib/crypto.js';
import { IdpError } from '../../lib/errors.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';
import { FactorError } from '../factor.js';

/** Tries per code (NIST SP 800-63B §5.2.2 asks for a limit; five leaves 5 in 10^6 odds per code). */
export const TRIES_PER_CODE = 5;

/** What a code was sent for: the destination it went to, by which channel. */
export interface CodeFacts {
  destinationId: string;
  channel: string;
}

interface Stored extends CodeFacts {
  /** Keyed hash of the code: the store never holds a code an attacker reading it could type. */
  hash: string;
  expiresAt: number;
  /** This code's own id: its tries are counted apart from an earlier code's. */
  nonce: string;
}

export interface IssueOptions extends CodeFacts {
  ttlSeconds: number;
}

/**
 * One-time codes bound to who asked (`login:<uid>`, `session:<id>`, `verify:<credentialId>`):
 * six digits from the CSPRNG, kept only as a keyed hash under the binding, a new one voiding the
 * older, five tries each (reserved before the comparison), compared in constant time, taken
 * atomically by the one right answer, and re-sent no sooner than the resend interval.
 */
export function createOneTimeCodes(deps: { ephemeral: EphemeralStore; clock: Clock; key: string }) {
  const { ephemeral, clock } = deps;
  // Bindings hold login and session ids: they are keyed before they become store keys.
  const id = (binding: string) => hmac(deps.key, `otp-binding:${binding}`);
  const codeKey = (binding: string) => `otp:code:${id(binding)}`;
  const sentKey = (binding: string) => `otp:sent:${id(binding)}`;
  const gateKey = (binding: string) => `otp:gate:${id(binding)}`;
  const triesKey = (nonce: string) => `otp:tries:${nonce}`;
  const hashOf = (binding: string, code: string) => hmac(deps.key, `otp-code:${binding}:${code}`);

  return {
    /**
     * Seconds until a new code may be sent for this binding, reserving the send when it may (0):
     * of concurrent callers that saw the same last send, one gets 0.
     */
    async reserveSend(binding: string, resendAfterSeconds: number): Promise<number> {
      const now = clock.now();
      const last = await ephemeral.get(sentKey(binding));
      const wait = last ? Math.ceil((Number(last) + resendAfterSeconds * 1000 - now) / 1000) : 0;
      if (wait > 0) return wait;
      if ((await ephemeral.increment(`${gateKey(binding)}:${last ?? 'none'}`, resendAfterSeconds)) !== 1) return resendAfterSeconds;
      await ephemeral.set(sentKey(binding), String(now), resendAfterSeconds);
      return 0;
    },

    /** A new code for the binding (after `reserveSend`); the earlier one no longer works. */
    async issue(binding: string, opts: IssueOptions): Promise<string> {
      const code = crypto.randomInt(0, 1_000_000).toString().padStart(6, '0');
      const stored: Stored = {
        hash: hashOf(binding, code),
        expiresAt: clock.now() + opts.ttlSeconds * 1000,
        nonce: randomToken(16),
        destinationId: opts.destinationId,
        channel: opts.channel,
      };
      await ephemeral.set(codeKey(binding), JSON.stringify(stored), opts.ttlSeconds);
      return code;
    },

    /**
     * Checks a code for the binding and, when right, uses it up. Throws FactorError `invalid_code`
     * for a wrong, expired, exhausted, used or absent code alike.
     */
    async check(binding: string, code: unknown): Promise<CodeFacts> {
      if (typeof code !== 'string') throw new FactorError('malformed', 'code must be a string');
      const raw = await ephemeral.get(codeKey(binding));
      if (!raw) throw new FactorError('invalid_code', 'no code was sent for this binding, or it was used');
      const stored = JSON.parse(raw) as Stored;
      if (clock.now() >= stored.expiresAt) throw new FactorError('invalid_code', 'the code expired');
      // Reserved before the comparison, so concurrent guesses cannot all be compared against a stale count.
      const tries = await ephemeral.increment(triesKey(stored.nonce), Math.max(1, Math.ceil((stored.expiresAt - clock.now()) / 1000)));
      if (tries > TRIES_PER_CODE) throw new FactorError('invalid_code', 'the code has no tries left');
      if (!/^[0-9]{6}$/.test(code) || !safeEqual(hashOf(binding, code), stored.hash)) throw new FactorError('invalid_code', 'wrong code');
      // Of concurrent right answers, the one that takes the stored code wins; a newer code is put back untouched.
      const taken = await ephemeral.take(codeKey(binding));
      if (!taken) throw new FactorError('invalid_code', 'the code was just used');
      const now = JSON.parse(taken) as Stored;
      if (now.nonce !== stored.nonce) {
        await ephemeral.set(codeKey(binding), taken, Math.max(1, Math.ceil((now.expiresAt - clock.now()) / 1000)));
        throw new FactorError('invalid_code', 'a newer code replaced this one');
      }
      return { destinationId: stored.destinationId, channel: stored.channel };
    },

    /** Forgets the binding's code (a destination removed before it was verified). */
    discard: (binding: string) => ephemeral.del(codeKey(binding)),

    /**
     * Forgets the binding's code if it is still `code` (a send that failed after the code may have
     * left): a newer code, issued meanwhile by a later send, is put back untouched.
     */
    async discardIfStill(binding: string, code: string): Promise<void> {
      const taken = await ephemeral.take(codeKey(binding));
      if (!taken) return;
      const stored = JSON.parse(taken) as Stored;
      if (safeEqual(hashOf(binding, code), stored.hash)) return;
      await ephemeral.set(codeKey(binding), taken, Math.max(1, Math.ceil((stored.expiresAt - clock.now()) / 1000)));
    },
  };
}

export type OneTimeCodes = ReturnType<typeof createOneTimeCodes>;

/** Refused resend: a code went to this binding moments ago. */
export const resendTooSoon = (retryAfterSec: number) =>
  new IdpError('resend_too_soon', `a code was sent moments ago: ask for another in ${retryAfterSec} seconds`, { retryAfterSec });
