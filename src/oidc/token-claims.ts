import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import { authnKeyString, type AuthnKey } from '../store/repositories/authn-state.repository.js';
import { memoPerRequest } from './request-memo.js';

/** `ctx`: the provider request asking; both token callbacks of one request get one lookup. */
export interface StepUpLookup {
  isStepUp(ctx: unknown, key: AuthnKey): Promise<boolean>;
}

export const createStepUpLookup = (isStepUp: (key: AuthnKey) => Promise<boolean>): StepUpLookup => ({
  isStepUp: memoPerRequest(authnKeyString, isStepUp),
});

/**
 * JWT access tokens carry how the user authenticated (acr, amr, auth_time, step_up), taken from
 * the code or refresh token they were minted from, so resource servers can demand a level too.
 */
export function createExtraTokenClaims(lookup: StepUpLookup): NonNullable<Configuration['extraTokenClaims']> {
  return async (ctx: KoaContextWithOIDC, token) => {
    if (token.kind !== 'AccessToken') return undefined;
    const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
    if (!source?.accountId || !source.authTime) return undefined;
    // A step-up always ends in MFA, so a token without it needs no lookup.
    const stepUp = source.amr?.includes('mfa')
      ? await lookup.isStepUp(ctx, { accountId: source.accountId, authTime: source.authTime, amr: source.amr })
      : false;
    return { acr: source.acr, amr: source.amr, auth_time: source.authTime, ...(stepUp ? { step_up: true } : {}) };
  };
}
