import type { AuthEvent } from '../../policy/types.js';
import type { Db } from '../db.js';

export interface AuthnState { events: AuthEvent[]; stepUp: boolean; trustedDeviceId: string | null }

/**
 * What one authentication proved, keyed by (account, auth_time): the session and every token
 * minted from it carry both, so the login Check and the token claims can find it.
 */
export function createAuthnStateRepository(db: Db) {
  return {
    async put(accountId: string, authTime: number, state: AuthnState, ttlSec: number): Promise<void> {
      const values = { events: JSON.stringify(state.events), stepUp: state.stepUp, trustedDeviceId: state.trustedDeviceId, expiresAt: new Date(Date.now() + ttlSec * 1000) };
      await db.insertInto('authnStates').values({ accountId, authTime, ...values })
        .onConflict((oc) => oc.columns(['accountId', 'authTime']).doUpdateSet(values)).execute();
    },
    async get(accountId: string, authTime: number): Promise<AuthnState | undefined> {
      const row = await db.selectFrom('authnStates').select(['events', 'stepUp', 'trustedDeviceId'])
        .where('accountId', '=', accountId).where('authTime', '=', authTime).where('expiresAt', '>', new Date()).executeTakeFirst();
      return row && { events: row.events as AuthEvent[], stepUp: row.stepUp, trustedDeviceId: row.trustedDeviceId };
    },
    async sweep(): Promise<void> {
      await db.deleteFrom('authnStates').where('expiresAt', '<', new Date()).execute();
    },
  };
}

export type AuthnStateRepository = ReturnType<typeof createAuthnStateRepository>;
