import { generate } from 'otplib';
import { CookieJar, expectStatus, form, header, jwtPayload, pathOf, randomB64u, request, s256, type Resp } from '../lib/http.js';
import { HttpStatusError, type Recorder } from '../lib/recorder.js';
import type { Target } from './target.js';

export interface TokenSet {
  access_token: string;
  id_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

/** What a step handler sees: the interaction (from GET /interaction/<uid> as JSON) and helpers bound to this login's cookies. */
export interface StepContext {
  uid: string;
  /** The step the server asks for (`login`, `consent`, later `mfa`/`totp`, ...). */
  step: string;
  details: Record<string, unknown>;
  /** `/interaction/<uid>` */
  interactionPath: string;
  target: Target;
  /** JSON POST to `<interactionPath>/<action>` with this login's cookies, timed as step `timing` (default: the action). */
  post(action: string, body: unknown, timing?: string): Promise<Record<string, unknown>>;
}

/** Answers one interaction step; returns the `redirect_to` the server gave. */
export type StepHandler = (ctx: StepContext) => Promise<string>;

/** Password step (first-party clients skip consent). */
export function passwordStep(username: string, password: string): StepHandler {
  return async (ctx) => {
    if (ctx.step !== 'login') throw new Error(`unexpected interaction step ${ctx.step}`);
    return redirectTo(await ctx.post('login', { username, password }, 'password'));
  };
}

/** A user with a confirmed TOTP, and the time (Unix seconds) whose code the login is to use. */
export interface TotpLogin {
  username: string;
  password: string;
  secret: string;
  epoch: number;
}

/**
 * Password, then TOTP, in the `login` step: POST …/login answers `{status:'mfa_required', methods}`
 * for a user with a confirmed TOTP, then POST …/mfa/totp `{code}` finishes it. `account` picks the
 * user when the step starts (see TotpUserPool: a code is accepted once per user per 30-s step).
 * The code is computed here, with otplib, for `epoch` (the ±1 step drift the server accepts covers
 * a login that crosses a step boundary). Timed as `password` and `totp`. Should the server offer
 * to trust the device, it is declined (timed as `trust_device`).
 */
export function passwordTotpStep(account: () => Promise<TotpLogin>): StepHandler {
  return async (ctx) => {
    if (ctx.step !== 'login') throw new Error(`unexpected interaction step ${ctx.step}`);
    const a = await account();
    const first = await ctx.post('login', { username: a.username, password: a.password }, 'password');
    if (first.status !== 'mfa_required' || !Array.isArray(first.methods) || !first.methods.includes('totp')) {
      throw new Error(`password step: expected mfa_required with totp, got ${JSON.stringify(first).slice(0, 200)}`);
    }
    let body = await ctx.post('mfa/totp', { code: await generate({ secret: a.secret, epoch: a.epoch }) }, 'totp');
    if (body.status === 'trust_device') body = await ctx.post('trust-device', { trust: false }, 'trust_device');
    return redirectTo(body);
  };
}

/**
 * Dispatches on the step name (`login`, `consent`, `mfa` for a step-up on an existing session, ...),
 * e.g. `stepsByName({ login: passwordStep(u, p), consent: ... })`.
 */
export function stepsByName(handlers: Record<string, StepHandler>): StepHandler {
  return async (ctx) => {
    const handler = handlers[ctx.step];
    if (!handler) throw new Error(`no handler for interaction step ${ctx.step}`);
    return handler(ctx);
  };
}

export function redirectTo(body: Record<string, unknown>): string {
  if (body.status !== 'success' || typeof body.redirect_to !== 'string')
    throw new Error(`interaction step did not succeed: ${JSON.stringify(body).slice(0, 200)}`);
  return body.redirect_to;
}

export interface LoginOptions {
  /** Answers the interaction steps; without one, interaction URLs are simply followed (the bare provider answers them at once). */
  onStep?: StepHandler;
  /** Per-step latencies go here (authorize, interaction, password, resume, token). */
  rec?: Recorder;
  scope?: string;
  /** Ask for a JWT access token for this resource (default: the API resource). `null`: no resource (opaque access token). */
  resource?: string | null;
  /** Wraps every HTTP request of the flow (used to account server CPU per step). */
  around?: <T>(step: string, fn: () => Promise<T>) => Promise<T>;
  /** The cookie jar to use (default: a fresh one); pass one to keep the session the login leaves behind. */
  jar?: CookieJar;
}

const MAX_HOPS = 10;

/**
 * One full authorization-code + PKCE login with a fresh cookie jar (or `opts.jar`):
 * GET /auth → 303 /interaction/<uid> → GET it as JSON → step handler(s) → GET redirect_to (resume)
 * → 303 redirect_uri?code=… → POST /token. Checks state, nonce and that every token is there.
 */
export async function login(t: Target, opts: LoginOptions = {}): Promise<TokenSet> {
  const jar = opts.jar ?? new CookieJar();
  const rec = opts.rec;
  const timed = async (step: string, fn: () => Promise<Resp>): Promise<Resp> => {
    const t0 = performance.now();
    const res = await (opts.around ? opts.around(step, fn) : fn());
    rec?.step(step, performance.now() - t0);
    jar.store(res);
    return res;
  };
  const get = (step: string, path: string, accept = 'text/html') =>
    timed(step, () =>
      request(t.pool, {
        path,
        headers: { accept, ...(jar.header() ? { cookie: jar.header()! } : {}) },
      }),
    );

  const verifier = randomB64u(32);
  const state = randomB64u(16);
  const nonce = randomB64u(16);
  const resource = opts.resource === undefined ? t.apiResource : opts.resource;
  const query = form({
    client_id: t.client.id,
    redirect_uri: t.client.redirectUri,
    response_type: 'code',
    scope: opts.scope ?? 'openid offline_access profile email api',
    state,
    nonce,
    code_challenge: s256(verifier),
    code_challenge_method: 'S256',
    ...(resource ? { resource } : {}),
  });

  let res = await get('authorize', `${t.paths.authorization}?${query}`);
  let location = redirectOf('authorize', res);
  let hops = 0;
  while (!location.startsWith(t.client.redirectUri)) {
    if (++hops > MAX_HOPS) throw new Error('too many redirects');
    const path = pathOf(location);
    if (path.startsWith('/interaction/') && opts.onStep) {
      res = await get('interaction', path, 'application/json');
      expectStatus('interaction', res, 200);
      const details = JSON.parse(res.text) as Record<string, unknown>;
      location = await opts.onStep({
        uid: String(details.uid),
        step: String(details.step),
        details,
        interactionPath: path,
        target: t,
        async post(action, body, timing = action) {
          const r = await timed(timing, () =>
            request(t.pool, {
              path: `${path}/${action}`,
              method: 'POST',
              body: JSON.stringify(body),
              headers: { accept: 'application/json', 'content-type': 'application/json', ...(jar.header() ? { cookie: jar.header()! } : {}) },
            }),
          );
          expectStatus(timing, r, 200);
          return JSON.parse(r.text) as Record<string, unknown>;
        },
      });
      continue;
    }
    const step = path.startsWith('/interaction/') ? 'interaction' : 'resume';
    res = await get(step, path);
    location = redirectOf(step, res);
  }

  const callback = new URL(location);
  if (callback.searchParams.get('error'))
    throw new Error(`authorization error: ${callback.searchParams.get('error')} ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error('no code in the callback');

  res = await timed('token', () =>
    request(t.pool, {
      path: t.paths.token,
      method: 'POST',
      headers: { authorization: t.client.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form({ grant_type: 'authorization_code', code, redirect_uri: t.client.redirectUri, code_verifier: verifier }),
    }),
  );
  expectStatus('token', res, 200);
  const tokens = JSON.parse(res.text) as TokenSet;
  if (!tokens.access_token || !tokens.id_token || !tokens.refresh_token) throw new Error(`token response lacks a token: ${Object.keys(tokens).join(',')}`);
  if (jwtPayload(tokens.id_token)?.nonce !== nonce) throw new Error('id_token nonce mismatch');
  return tokens;
}

function redirectOf(step: string, res: Resp): string {
  const location = header(res, 'location');
  if ((res.status !== 302 && res.status !== 303) || !location) throw new HttpStatusError(step, res.status, res.text);
  return location;
}
