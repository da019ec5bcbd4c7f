import * as oc from 'openid-client';
import { ADMIN_KEY } from './env.js';
import { Browser } from './browser.js';

export const REDIRECT_URI = 'http://127.0.0.1:9/cb';

/** Registers a client through the admin API (as an operator would) and returns its secret. */
export async function registerClient(baseUrl: string, body: Record<string, unknown> = {}): Promise<{ client_id: string; client_secret: string }> {
  const res = await fetch(`${baseUrl}/api/v1/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], ...body }),
  });
  if (res.status !== 201) throw new Error(`client registration failed: ${res.status} ${await res.text()}`);
  return res.json() as Promise<{ client_id: string; client_secret: string }>;
}

export async function createUser(baseUrl: string, user: Record<string, unknown>): Promise<{ id: string; external_id: string }> {
  const res = await fetch(`${baseUrl}/api/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  if (res.status !== 201) throw new Error(`user creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { user: { id: string; external_id: string } }).user;
}

export async function discover(issuer: string, clientId: string, clientSecret: string): Promise<oc.Configuration> {
  return oc.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [oc.allowInsecureRequests] });
}

export type StepHandler = (step: { uid: string; step: string; body: any; interactionUrl: URL; browser: Browser }) => Promise<string>;

export interface AuthorizeOptions {
  browser?: Browser;
  scope?: string;
  params?: Record<string, string>;
  /** Answers each interaction step; returns the `redirect_to` to follow. */
  onStep: StepHandler;
}

/** An authorization request with PKCE, state and nonce, and how to redeem the code it leads to. */
export async function authorizationRequest(config: oc.Configuration, scope: string, params: Record<string, string> = {}) {
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return {
    url,
    redeem: (callback: URL) => oc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }),
  };
}

/** The relying party's side: authorization request with PKCE, the interaction, then the code exchange. */
export async function authorize(config: oc.Configuration, opts: AuthorizeOptions) {
  const browser = opts.browser ?? new Browser();
  const request = await authorizationRequest(config, opts.scope ?? 'openid offline_access email profile', opts.params);
  let url: URL = request.url;
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(REDIRECT_URI)) {
      const tokens = await request.redeem(url);
      return { tokens, callbackUrl: url, browser };
    }
    if (url.pathname.startsWith('/interaction/')) {
      const details = await browser.json(url);
      if (details.status !== 200) throw new Error(`interaction GET ${details.status}: ${JSON.stringify(details.body)}`);
      url = new URL(await opts.onStep({ uid: details.body.uid, step: details.body.step, body: details.body, interactionUrl: url, browser }), url);
      continue;
    }
    const res = await browser.fetch(url, { headers: { accept: 'application/json' } });
    const location = res.headers.get('location');
    if (!location) throw new Error(`no redirect from ${url.pathname}: ${res.status} ${await res.text()}`);
    url = new URL(location, url);
  }
  throw new Error('too many hops');
}

/** Step handler for a password login followed by consent, if asked. */
export function passwordSteps(username: string, password: string): StepHandler {
  return async ({ step, interactionUrl, browser }) => {
    const path = step === 'login' ? 'login' : step === 'consent' ? 'consent' : undefined;
    if (!path) throw new Error(`unexpected step ${step}`);
    const res = await browser.json(`${interactionUrl.href}/${path}`, step === 'login' ? { username, password } : {});
    if (res.status !== 200) throw Object.assign(new Error(`${path} failed: ${res.status}`), { response: res });
    return res.body.redirect_to as string;
  };
}

export { oc };

/** A silent authorization request (prompt=none) from this browser: the `error` it ends with, or null when the session answered it. */
export async function silentError(config: oc.Configuration, browser: Browser): Promise<string | null> {
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const location = (await browser.fetch(url)).headers.get('location');
  return new URL(location!, url).searchParams.get('error');
}

/**
 * Redeems a refresh token: its successor (tokens rotate, so the one given is spent), or undefined
 * when the token endpoint refuses it (invalid_grant, as after a revocation).
 */
export async function refreshed(config: oc.Configuration, refreshToken: string): Promise<string | undefined> {
  try {
    return (await oc.refreshTokenGrant(config, refreshToken)).refresh_token;
  } catch (err) {
    if (err instanceof oc.ResponseBodyError && err.error === 'invalid_grant') return undefined;
    throw err;
  }
}

/** Whether the token endpoint still honours a refresh token (which this spends). */
export const refreshWorks = async (config: oc.Configuration, refreshToken: string): Promise<boolean> => (await refreshed(config, refreshToken)) !== undefined;
