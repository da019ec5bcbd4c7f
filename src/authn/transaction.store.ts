import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { AuthEvent, MfaMethod } from '../policy/types.js';

/**
 * The server-side state of one login interaction between the password and the end of MFA.
 * Keyed by the interaction uid, which oidc-provider binds to this browser's interaction cookie.
 */
export interface LoginTransaction {
  uid: string;
  accountId: string;
  /** `reauth`: the password must be given again before `enroll` (the session's is too old to add a factor). */
  stage: 'reauth' | 'mfa' | 'enroll' | 'trust_device';
  methods: MfaMethod[];
  events: AuthEvent[];
  /** The session existed before this interaction (step-up or reauth): no password asked again. */
  stepUp: boolean;
  /** AAL of the session before this interaction, to tell whether it was raised. */
  priorAal: number;
  clientId: string;
  organizationId: string;
  createdAt: number;
  /** The TOTP credential this login's enrolment shows, so every render offers the same secret. */
  pendingTotpId?: string;
}

const key = (uid: string) => `tx:${uid}`;
const attemptsKey = (uid: string) => `tx-attempts:${uid}`;

export function createTransactionStore(store: EphemeralStore, ttlSec: number) {
  return {
    async get(uid: string): Promise<LoginTransaction | undefined> {
      const raw = await store.get(key(uid));
      return raw ? (JSON.parse(raw) as LoginTransaction) : undefined;
    },
    save: (tx: LoginTransaction) => store.set(key(tx.uid), JSON.stringify(tx), ttlSec),
    /** Removes and returns it: a transaction finishes at most once even under concurrent requests. */
    async take(uid: string): Promise<LoginTransaction | undefined> {
      const raw = await store.take(key(uid));
      return raw ? (JSON.parse(raw) as LoginTransaction) : undefined;
    },
    /** Reserves one attempt in this challenge; the count includes this one. */
    countAttempt: (uid: string) => store.increment(attemptsKey(uid), ttlSec),
    async clear(uid: string): Promise<void> {
      await Promise.all([store.del(key(uid)), store.del(attemptsKey(uid))]);
    },
  };
}

export type TransactionStore = ReturnType<typeof createTransactionStore>;
