import crypto from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Caller } from '../../admin/changed-by.js';
import type { ClientService } from '../../admin/client.service.js';
import { randomToken, safeEqual } from '../../lib/crypto.js';
import { IdpError } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';
import type { Pages } from '../../i18n/pages.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import { validate } from '../middleware/body.js';

/** The console signs its users in as a first-party OpenID Connect client of this IdP: one login page, one policy, one session. */
export const CONSOLE_CLIENT_ID = 'account-console';
const STATE_COOKIE = 'idp_account_signin';
const SYSTEM: Caller = { actor: 'system:account-console', organizationId: null };

/** Where a sign-in may lead back to: a page of the console, nothing else (no open redirect). */
export const consolePath = (value: unknown): string => (typeof value === 'string' && /^\/account(?:\/[a-z-]+)*$/.test(value) ? value : '/account');

const startQuery = z.object({ return: z.string().max(200).optional(), reauth: z.enum(['password', 'mfa']).optional() });
const callbackQuery = z.object({ state: z.string().max(200), code: z.string().max(512).optional(), error: z.string().max(200).optional() });
const stateCookie = z.object({ state: z.string(), verifier: z.string(), return: z.string() });

const s256 = (verifier: string) => crypto.createHash('sha256').update(verifier).digest('base64url');

export interface SignInDeps {
  issuer: string;
  providers: ProviderHolder;
  clientService: Pick<ClientService, 'get' | 'create'>;
  pages: Pages;
}

/**
 * `/account/sign-in` starts an authorization request (code, PKCE, state bound to this browser by a
 * signed cookie) of the console's own public client, registered on first use; `/account/callback`
 * checks the state, takes the code (bound to the verifier) so that it is never redeemed, and goes
 * back to the page. The console itself is authenticated by the SSO session cookie alone, as the
 * self-service API is. `reauth` asks for the sign-in again (`prompt=login`), with a second factor
 * (`acr_values=aal2`) when the account has one: the step-up a change may need.
 */
export function signInRoutes(deps: SignInDeps): Router {
  const router = new Router({ prefix: '/account' });
  const origin = new URL(deps.issuer).origin;
  const redirectUri = `${origin}/account/callback`;
  const issuerBase = deps.issuer.replace(/\/$/, '');

  async function ensureClient() {
    try {
      await deps.clientService.get(CONSOLE_CLIENT_ID, SYSTEM);
      return;
    } catch (err) {
      if (!(err instanceof IdpError) || err.error !== 'not_found') throw err;
    }
    try {
      await deps.clientService.create(
        {
          client_id: CONSOLE_CLIENT_ID,
          client_name: 'Account',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          first_party: true,
        },
        SYSTEM,
      );
    } catch (err) {
      // Another node registered it meanwhile.
      if (!(err instanceof IdpError) || err.error !== 'conflict') throw err;
    }
  }

  router.get('/sign-in', async (ctx) => {
    const q = validate(startQuery, ctx.query);
    await ensureClient();
    const state = randomToken(24);
    const verifier = randomToken(32);
    ctx.cookies.set(STATE_COOKIE, JSON.stringify({ state, verifier, return: consolePath(q.return) }), {
      httpOnly: true,
      sameSite: 'lax',
      signed: true,
      path: '/account',
      maxAge: 15 * 60_000,
    });
    const params = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      state,
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
      ...(q.reauth ? { prompt: 'login' } : {}),
      ...(q.reauth === 'mfa' ? { acr_values: 'aal2' } : {}),
    });
    ctx.redirect(`${issuerBase}/auth?${params}`);
  });

  router.get('/callback', async (ctx) => {
    const q = validate(callbackQuery, ctx.query);
    let kept: z.infer<typeof stateCookie> | undefined;
    try {
      kept = stateCookie.parse(JSON.parse(ctx.cookies.get(STATE_COOKIE, { signed: true }) ?? ''));
    } catch {
      kept = undefined;
    }
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account' });
    if (!kept || !safeEqual(kept.state, q.state)) throw new IdpError('invalid_request', 'this sign-in was not started in this browser; start again');
    if (q.code) {
      // The code is of no use to anyone: taken here so that it cannot be redeemed, after checking it is the one this browser asked for.
      const code = await deps.providers.current.AuthorizationCode.find(q.code);
      if (code && code.clientId === CONSOLE_CLIENT_ID && code.codeChallenge === s256(kept.verifier)) await code.consume();
    }
    // A sign-in the user cancelled (or the IdP refused) ends here, not in a loop back to the sign-in.
    if (q.error) return deps.pages.render(ctx, 'account/sign-in-failed', {});
    ctx.redirect(kept.return);
  });

  return router;
}

/** The console's answer to a request without a signed-in session: to the sign-in, then back to the page (a form post's page is not one). */
export function toSignIn(ctx: Context): void {
  const params = new URLSearchParams({ return: consolePath(ctx.method === 'GET' ? ctx.path : '/account') });
  ctx.redirect(`/account/sign-in?${params}`);
}
