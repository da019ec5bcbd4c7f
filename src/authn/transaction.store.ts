import { hmac } from '../lib/crypto.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { AuthEvent, DecisionWhy, MfaMethod, RiskVerdict } from '../policy/types.js';
import type { LoginOrigin } from './login-request.js';

/**
 * The server-side state of one login between the password and the end of MFA, whichever protocol
 * asked for it. Keyed by the login's uid, which the protocol binds to this browser (for OIDC, the
 * provider's interaction cookie).
 */
export interface LoginTransaction {
  uid: string;
  /** The protocol that asked for this login; the steps do not depend on it, only the finisher does. */
  origin: LoginOrigin;
  accountId: string;
  /**
   * `reauth`: the password must be given again before `enroll` (the session's is too old to add a factor).
   * `password_change`: the password given was a temporary one; a new one comes before any other step.
   * `backup_codes`: the first factor was just set up; its backup codes are shown once before the login goes on.
   */
  stage: 'reauth' | 'mfa' | 'enroll' | 'trust_device' | 'password_change' | 'backup_codes';
  methods: MfaMethod[];
  events: AuthEvent[];
  /** The session existed before this interaction (step-up or reauth): no password asked again. */
  stepUp: boolean;
  /** AAL of the session before this interaction, to tell whether it was raised. */
  priorAal: number;
  clientId: string;
  organizationId: string;
  createdAt: number;
  /** Why the login was satisfied, kept while the trust-device question is open, for the login's audit event. */
  decided?: DecisionWhy;
  /** The risk engine's verdict on this sign-in (adaptive MFA), which every later step of the login is decided with. */
  risk?: RiskVerdict;
  /** "Keep me signed in" was asked at the password step and the organisation allows it; carried to the finish. */
  rememberMe?: boolean;
  /** Until when the temporary password this login was signed in with holds: the change replaces that one, not a later one. */
  temporaryPasswordUntil?: number;
  /** The pending credential this login's enrolment shows, per method, so every render of a method offers the same one. */
  pendingCredentials?: Partial<Record<MfaMethod, string>>;
}

/**
 * The uid is the interaction cookie's value, a bearer value: keys carry only its keyed hash and the
 * stored value leaves it out, so a copy of the store cannot resume anybody's login.
 */
export function createTransactionStore(store: EphemeralStore, ttlSec: number, idKey: string) {
  const key = (uid: string) => `tx:${hmac(idKey, uid)}`;
  const attemptsKey = (uid: string) => `tx-attempts:${hmac(idKey, uid)}`;
  const challengeKey = (uid: string, path: string) => `tx-challenge:${hmac(idKey, uid)}:${path}`;
  const openChallengeKey = (uid: string, method: MfaMethod) => `tx-open-challenge:${hmac(idKey, uid)}:${method}`;
  const parse = (uid: string, raw: string | undefined): LoginTransaction | undefined =>
    // Written before logins had an origin: every such login was an OIDC one.
    raw ? { origin: 'oidc', ...(JSON.parse(raw) as Omit<LoginTransaction, 'uid' | 'origin'> & { origin?: LoginOrigin }), uid } : undefined;
  return {
    get: async (uid: string) => parse(uid, await store.get(key(uid))),
    save: ({ uid, ...rest }: LoginTransaction) => store.set(key(uid), JSON.stringify(rest), ttlSec),
    /** Removes and returns it: a transaction finishes at most once even under concurrent requests. */
    take: async (uid: string) => parse(uid, await store.take(key(uid))),
    /**
     * Keeps the state of a challenge started in this login at a challenge path, with the method that
     * started it, replacing any earlier one at that path (of whichever method shares it).
     */
    saveChallenge: (tx: LoginTransaction, path: string, method: MfaMethod, state: unknown) =>
      store.set(challengeKey(tx.uid, path), JSON.stringify({ createdAt: tx.createdAt, method, state }), ttlSec),
    /**
     * The latest challenge's state at a path. `take` removes it: it is answered at most once, right
     * or wrong, even by concurrent requests. Either way only the transaction that started it sees it
     * (not a later login in the same interaction).
     */
    async challenge(tx: LoginTransaction, path: string, take: boolean): Promise<{ method: MfaMethod; state: unknown } | undefined> {
      const raw = take ? await store.take(challengeKey(tx.uid, path)) : await store.get(challengeKey(tx.uid, path));
      const kept = raw ? (JSON.parse(raw) as { createdAt: number; method: MfaMethod; state: unknown }) : undefined;
      return kept?.createdAt === tx.createdAt ? { method: kept.method, state: kept.state } : undefined;
    },
    /**
     * A challenge started before anyone is known (a passwordless sign-in): kept under the login's
     * uid alone, replacing an earlier one, and taken at most once.
     */
    saveOpenChallenge: (uid: string, method: MfaMethod, state: unknown) => store.set(openChallengeKey(uid, method), JSON.stringify(state), ttlSec),
    async takeOpenChallenge(uid: string, method: MfaMethod): Promise<{ state: unknown } | undefined> {
      const raw = await store.take(openChallengeKey(uid, method));
      return raw ? { state: JSON.parse(raw) as unknown } : undefined;
    },
    /** Reserves one attempt in this challenge; the count includes this one. */
    countAttempt: (uid: string) => store.increment(attemptsKey(uid), ttlSec),
    async clear(uid: string): Promise<void> {
      await Promise.all([store.del(key(uid)), store.del(attemptsKey(uid))]);
    },
  };
}

export type TransactionStore = ReturnType<typeof createTransactionStore>;
