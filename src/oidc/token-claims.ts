import type { Account, Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';

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
 * the code or refresh token they were minted from, so resource servers can demand a level too,
 * and the user's active break-glass grant when that authentication reached what it asks.
 */
export function createExtraTokenClaims(
  lookup: StepUpLookup,
  breakGlass?: Pick<BreakGlassClaims, 'accessTokenClaims'>,
): NonNullable<Configuration['extraTokenClaims']> {
  return async (ctx: KoaContextWithOIDC, token) => {
    if (token.kind !== 'AccessToken') return undefined;
    const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
    if (!source?.accountId || !source.authTime) return undefined;
    // A step-up always ends in MFA, so a token without it needs no lookup.
    const stepUp = source.amr?.includes('mfa')
      ? await lookup.isStepUp(ctx, { accountId: source.accountId, authTime: source.authTime, amr: source.amr })
      : false;
    const elevated = await breakGlass?.accessTokenClaims(ctx, source.accountId, source.acr);
    return { acr: source.acr, amr: source.amr, auth_time: source.authTime, ...(stepUp ? { step_up: true } : {}), ...elevated };
  };
}

/** A break-glass grant active for the token's user, as the token path needs it. */
export interface Elevation {
  id: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  permissions: string[];
  /** The least AAL the authentication behind a token must have reached for the token to carry the grant. */
  minAal: number;
}

export interface BreakGlassSource<E extends Elevation> {
  activeFor(accountId: string): Promise<E | undefined>;
  used(elevation: E, accountId: string, use: { clientId?: string; route: string }): Promise<void>;
}

/** A token's acr: codes and refresh tokens hold it, access tokens in the claims we added to them. */
function acrOf(token: unknown): string | undefined {
  if (typeof token !== 'object' || token === null) return undefined;
  const t = token as { acr?: unknown; extra?: { acr?: unknown } };
  const acr = t.acr ?? t.extra?.acr;
  return typeof acr === 'string' ? acr : undefined;
}
const aalOf = (acr: string | undefined) => Number(/^aal([123])$/.exec(acr ?? '')?.[1] ?? 0);

/**
 * Break-glass grants in tokens. While a grant is active (read at each issuance: `expires_at` after
 * now) and the authentication behind the token reached the organisation's `break_glass.min_acr`,
 * the ID token, the access token (JWT, or the opaque token's introspection) and userinfo carry
 * `break_glass: {id, expires_at}` and the granted `permissions`; a password-only or trusted-device
 * login never does. An access token carrying a grant expires with it at the latest. Each request
 * that hands the grant out is recorded once (`break_glass.used`).
 */
export function createBreakGlassClaims<E extends Elevation>(source: BreakGlassSource<E>, clock: { now(): number }) {
  const active = memoPerRequest(
    (accountId: string) => accountId,
    (accountId: string) => source.activeFor(accountId),
  );
  // What this request found, for the synchronous access-token lifetime: set before any token is built.
  const settled = new WeakMap<object, E>();
  const recorded = new WeakMap<object, Set<string>>();

  async function elevationOf(ctx: KoaContextWithOIDC, accountId: string, acr: string | undefined): Promise<E | undefined> {
    // An organisation's break_glass.min_acr is aal2 at least: a single-factor token is never elevated, and costs no read.
    const aal = aalOf(acr);
    if (aal < 2) return undefined;
    const elevation = await active(ctx, accountId);
    if (!elevation || aal < elevation.minAal) return undefined;
    settled.set(ctx, elevation);
    return elevation;
  }

  async function handedOut(ctx: KoaContextWithOIDC, accountId: string, elevation: E) {
    const seen = recorded.get(ctx) ?? new Set<string>();
    recorded.set(ctx, seen);
    if (seen.has(elevation.id)) return claimsOf(elevation);
    seen.add(elevation.id);
    await source.used(elevation, accountId, { clientId: ctx.oidc.client?.clientId, route: ctx.oidc.route ?? 'unknown' });
    return claimsOf(elevation);
  }

  const claimsOf = (e: E) => ({ break_glass: { id: e.id, expires_at: e.expiresAt }, permissions: e.permissions });

  return {
    /** The claims that go into a JWT access token (and an opaque one's introspection). */
    async accessTokenClaims(ctx: KoaContextWithOIDC, accountId: string, acr: string | undefined) {
      const elevation = await elevationOf(ctx, accountId, acr);
      return elevation ? handedOut(ctx, accountId, elevation) : undefined;
    },

    /** `findAccount` whose claims (ID token, userinfo) carry the grant. */
    withBreakGlass(find: FindAccount): FindAccount {
      return async (ctx, sub, token) => {
        const account = await find(ctx, sub, token);
        if (!account || !token) return account;
        const elevation = await elevationOf(ctx, account.accountId, acrOf(token));
        if (!elevation) return account;
        return {
          ...account,
          claims: async (...args: Parameters<Account['claims']>) => ({
            ...(await account.claims(...args)),
            ...(await handedOut(ctx, account.accountId, elevation)),
          }),
        };
      };
    },

    /** An access token minted while a grant is handed out lives no longer than the grant. */
    accessTokenTtl: (ctx: unknown, seconds: number): number => {
      const elevation = typeof ctx === 'object' && ctx !== null ? settled.get(ctx) : undefined;
      return elevation ? Math.max(1, Math.min(seconds, elevation.expiresAt - Math.floor(clock.now() / 1000))) : seconds;
    },
  };
}

export type BreakGlassClaims = ReturnType<typeof createBreakGlassClaims>;
