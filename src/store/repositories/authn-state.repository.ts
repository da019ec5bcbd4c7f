import type { Db } from '../db.js';

/** `Event` is the policy's record of one verified factor: the store keeps it as JSON without reading it. */
export interface AuthnState<Event> {
  events: Event[];
  stepUp: boolean;
  trustedDeviceId: string | null;
}

/** What the session and every token minted from it carry: enough to find their authentication record. */
export interface AuthnKey {
  accountId: string;
  authTime: number;
  amr: readonly string[] | undefined;
}

/** The `amr` part of a record's key: the same for the same methods in any order. */
export const amrKey = (amr: readonly string[] | undefined) => [...(amr ?? [])].sort().join(' ');

/** The key as one string: equal for two keys that find the same record. */
export const authnKeyString = (key: AuthnKey) => authnKeyOf(key.accountId, key.authTime, amrKey(key.amr));

/** `authnKeyString` from the `amr` part already made a key (`amrKey`). */
export const authnKeyOf = (accountId: string, authTime: number, amr: string) => `${accountId} ${authTime} ${amr}`;

/**
 * What one authentication proved, keyed by (account, auth_time, amr). The amr in the key keeps two
 * sign-ins of one account within one second apart when they proved different things.
 */
export function createAuthnStateRepository<Event>(db: Db) {
  return {
    async put(key: AuthnKey, state: AuthnState<Event>, ttlSec: number): Promise<void> {
      const values = {
        events: JSON.stringify(state.events),
        stepUp: state.stepUp,
        trustedDeviceId: state.trustedDeviceId,
        expiresAt: new Date(Date.now() + ttlSec * 1000),
      };
      await db
        .insertInto('authnStates')
        .values({ accountId: key.accountId, authTime: key.authTime, amr: amrKey(key.amr), ...values })
        .onConflict((oc) => oc.columns(['accountId', 'authTime', 'amr']).doUpdateSet(values))
        .execute();
    },
    async get(key: AuthnKey): Promise<AuthnState<Event> | undefined> {
      const row = await db
        .selectFrom('authnStates')
        .select(['events', 'stepUp', 'trustedDeviceId'])
        .where('accountId', '=', key.accountId)
        .where('authTime', '=', key.authTime)
        .where('amr', '=', amrKey(key.amr))
        .where('expiresAt', '>', new Date())
        .executeTakeFirst();
      return row && { events: row.events as Event[], stepUp: row.stepUp, trustedDeviceId: row.trustedDeviceId };
    },
    async sweep(): Promise<void> {
      await db.deleteFrom('authnStates').where('expiresAt', '<', new Date()).execute();
    },
  };
}

export type AuthnStateRepository<Event> = ReturnType<typeof createAuthnStateRepository<Event>>;
