import * as oc from 'openid-client';
import type { SecretBox } from '../../lib/crypto.js';
import { CONSOLE_CLIENT_ID, consoleUrls } from './console-client.js';

/** The assurance the console asks for and accepts (NIST SP 800-63B: administrators sign in with two factors). */
export const CONSOLE_ACR = 'aal2';
const ACCEPTED_ACR = new Set(['aal2', 'aal3']);
/** How long a started sign-in may take before its cookie is worthless. */
const LOGIN_TTL_MS = 10 * 60_000;

/** What the browser carries, sealed, between the start and the callback: nothing of it is readable or forgeable there. */
interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  exp: number;
}

export interface ConsoleSignIn {
  userId: string;
  acr: string | undefined;
  idToken: string;
}

/**
 * The console as a relying party of its own IdP, with openid-client: the authorization code flow
 * with PKCE, state and nonce, the code exchanged over HTTP at the issuer's token endpoint, and the
 * ID token's signature, issuer, audience, expiry and nonce checked.
 */
export function createConsoleLogin(deps: { issuer: string; box: SecretBox; now: () => number }) {
  const { redirectUri, postLogoutRedirectUri } = consoleUrls(deps.issuer);
  let discovered: Promise<oc.Configuration> | undefined;

  /** Discovered once per process (the JWKS is fetched again by openid-client when a key id is new); a failure is retried next time. */
  function configuration(): Promise<oc.Configuration> {
    discovered ??= oc
      .discovery(new URL(deps.issuer), CONSOLE_CLIENT_ID, undefined, oc.None(), {
        // http only for an issuer on http://localhost, which the configuration allows in development alone.
        ...(deps.issuer.startsWith('http://') ? { execute: [oc.allowInsecureRequests] } : {}),
      })
      .then((config) => {
        oc.enableNonRepudiationChecks(config);
        return config;
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  }

  return {
    /** The authorization request to send the browser to, and the sealed value of its cookie. */
    async start(): Promise<{ url: URL; sealed: string }> {
      const pending: Pending = { state: oc.randomState(), nonce: oc.randomNonce(), verifier: oc.randomPKCECodeVerifier(), exp: deps.now() + LOGIN_TTL_MS };
      const url = oc.buildAuthorizationUrl(await configuration(), {
        redirect_uri: redirectUri,
        scope: 'openid',
        response_type: 'code',
        code_challenge: await oc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
        acr_values: CONSOLE_ACR,
      });
      return { url, sealed: deps.box.seal(JSON.stringify(pending)) };
    },

    /** Redeems the code of the callback `query`; throws on anything amiss (state, code, signature, nonce). */
    async finish(sealed: string | undefined, query: string): Promise<ConsoleSignIn> {
      if (!sealed) throw new Error('no sign-in was started in this browser');
      const pending = JSON.parse(deps.box.open(sealed)) as Pending;
      if (pending.exp <= deps.now()) throw new Error('the sign-in took too long');
      const tokens = await oc.authorizationCodeGrant(await configuration(), new URL(`${redirectUri}?${query}`), {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      return { userId: claims.sub, acr: typeof claims.acr === 'string' ? claims.acr : undefined, idToken: tokens.id_token! };
    },

    accepts: (acr: string | undefined) => acr !== undefined && ACCEPTED_ACR.has(acr),

    /** The IdP's RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), back to the console's start page. */
    async endSessionUrl(idToken: string | undefined): Promise<URL> {
      return oc.buildEndSessionUrl(await configuration(), {
        client_id: CONSOLE_CLIENT_ID,
        post_logout_redirect_uri: postLogoutRedirectUri,
        ...(idToken ? { id_token_hint: idToken } : {}),
      });
    },
  };
}

export type ConsoleLogin = ReturnType<typeof createConsoleLogin>;
