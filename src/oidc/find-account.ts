import type { Account, FindAccount } from 'oidc-provider';
import type { AccountView } from '../store/repositories/account.repository.js';
import { memoPerRequest } from './request-memo.js';
import type { StepUpLookup } from './token-claims.js';
import { guard } from './unavailable.js';

/**
 * An account that is disabled, locked by an administrator (status `locked`) or deleted yields no
 * Account, so refresh, userinfo and introspection stop working for it at once, and its SSO
 * session no longer signs in silently (Zitadel CVE-2023-22492 class).
 *
 * A temporary lock after failed sign-in attempts (`locked_until`) is deliberately not checked
 * here: it only stops new password checks. Ending the user's sessions and tokens as well would
 * let anyone who knows a username sign that user out everywhere just by guessing wrong passwords
 * (lockout as denial of service, OWASP Authentication Cheat Sheet).
 */
export function createFindAccount(accounts: { findById(id: string): Promise<AccountView | undefined> }, stepUps?: StepUpLookup): FindAccount {
  const findUser = memoPerRequest(
    (id: string) => id,
    (id: string) => guard(() => accounts.findById(id)),
  );
  return async (ctx, sub, token): Promise<Account | undefined> => {
    const user = await findUser(ctx, sub);
    if (!user || user.status !== 'active') return undefined;
    // ID tokens from a code or refresh token say whether that authentication was a step-up.
    const authTime = token && 'authTime' in token ? token.authTime : undefined;
    const amr = token && 'amr' in token && Array.isArray(token.amr) ? token.amr : undefined;
    const stepUp =
      stepUps && amr?.includes('mfa') && typeof authTime === 'number' ? await guard(() => stepUps.isStepUp(ctx, { accountId: user.id, authTime, amr })) : false;
    return {
      accountId: user.id,
      // Whose settings apply to this account's tokens (refresh-token rotation).
      organizationId: user.organizationId,
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
