import type { Account, FindAccount } from 'oidc-provider';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { StepUpLookup } from './token-claims.js';
import { guard } from './unavailable.js';

/**
 * A disabled or deleted account yields no Account, so refresh, userinfo and introspection stop
 * working for it at once (Zitadel CVE-2023-22492 class).
 */
export function createFindAccount(accounts: Pick<AccountRepository, 'findById'>, stepUps?: StepUpLookup): FindAccount {
  return async (_ctx, sub, token): Promise<Account | undefined> => {
    const user = await guard(() => accounts.findById(sub));
    if (!user || user.status === 'disabled') return undefined;
    // ID tokens from a code or refresh token say whether that authentication was a step-up.
    const authTime = token && 'authTime' in token ? token.authTime : undefined;
    const amr = token && 'amr' in token && Array.isArray(token.amr) ? (token.amr as string[]) : undefined;
    const stepUp = stepUps && amr?.includes('mfa') && typeof authTime === 'number'
      ? await guard(() => stepUps.isStepUp({ accountId: user.id, authTime, amr })) : false;
    return {
      accountId: user.id,
      async claims() {
        return {
          sub: user.id,
          preferred_username: user.username ?? undefined,
          email: user.email ?? undefined,
          email_verified: user.email ? user.emailVerified : undefined,
          phone_number: user.phone ?? undefined,
          phone_number_verified: user.phone ? user.phoneVerified : undefined,
          updated_at: Math.floor(user.updatedAt.getTime() / 1000),
          ...(stepUp ? { step_up: true } : {}),
        };
      },
    };
  };
}
