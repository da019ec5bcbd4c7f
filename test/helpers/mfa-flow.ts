import { generate, generateSecret } from 'otplib';
import type { Container } from '../../src/container.js';
import type { Clock } from '../../src/lib/clock.js';
import { Browser } from './browser.js';
import { REDIRECT_URI, authorizationRequest, createUser, oc } from './rp.js';

/** A clock the test moves: real time plus an offset, so the IdP and the test agree on "now". */
export class FakeClock implements Clock {
  offsetMs = 0;
  /** When set, time stands still at this instant (plus later advances). */
  frozenAt: number | undefined;
  now(): number {
    return (this.frozenAt ?? Date.now()) + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  freeze(): void {
    this.frozenAt = Date.now();
  }
  reset(): void {
    this.offsetMs = 0;
    this.frozenAt = undefined;
  }
}

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** A TOTP code computed independently of the IdP (otplib defaults: SHA-1, 6 digits, 30 s), `offsetSteps` from `atMs`. */
export const codeAt = (secret: string, atMs: number, offsetSteps = 0): Promise<string> =>
  generate({ secret, epoch: Math.floor(atMs / 1000) + offsetSteps * 30 });

/** Waits, if needed, so that at least `marginMs` remain in the current 30-second step of `clock`. */
export async function awayFromStepBoundary(clock: Clock = { now: () => Date.now() }, marginMs = 4000): Promise<void> {
  const left = 30_000 - (clock.now() % 30_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 250));
}

/**
 * A confirmed TOTP credential with no step used yet (as if enrolled long ago), so that every step
 * of the window is still available to the test. Returns the base32 secret.
 */
export async function seedTotp(container: Container, userId: string): Promise<string> {
  const secret = generateSecret({ length: 20 });
  await container.credentials.insert({ userId, kind: 'totp', name: 'Authenticator app', secretSealed: container.box.seal(secret), confirmed: true });
  return secret;
}

/** Sets a cookie in the browser's jar for localhost (the jar exists once the browser has received a cookie). */
export function plantCookie(browser: Browser, name: string, value: string): void {
  const jar = browser.cookies('localhost');
  if (!jar.size) throw new Error('the browser has no cookie jar for localhost yet');
  jar.set(name, value);
}

export interface Flow {
  browser: Browser;
  /** Where the authorization request led: an interaction, or directly the callback (no interaction needed). */
  landed: URL;
  interactionUrl?: URL;
  /** GET /interaction/{uid} as JSON. */
  details(): Promise<{ status: number; body: any }>;
  /** POST /interaction/{uid}/{path} with a JSON body. */
  post(path: string, body?: unknown): Promise<{ status: number; body: any; res: Response }>;
  /** Follows `redirect_to` (or the callback it landed on) to the relying party and redeems the code. */
  complete(redirectTo?: string): Promise<{ tokens: oc.TokenEndpointResponse & oc.TokenEndpointResponseHelpers; claims: oc.IDToken }>;
}

/**
 * The step page a browser's form post leads to: the post is answered with a 303 to the interaction
 * (Post/Redirect/Get), whose page the browser then shows. Answers that page's HTML.
 */
export async function pageAfterPost(flow: Pick<Flow, 'browser' | 'interactionUrl'>, posted: Response): Promise<string> {
  expect(posted.status).toBe(303);
  expect(new URL(posted.headers.get('location')!, flow.interactionUrl).href).toBe(flow.interactionUrl!.href);
  return (await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } })).text();
}

/** The relying party starts an authorization request (code + PKCE) in `browser`. */
export async function beginAuth(config: oc.Configuration, opts: { browser?: Browser; params?: Record<string, string>; scope?: string } = {}): Promise<Flow> {
  const browser = opts.browser ?? new Browser();
  const request = await authorizationRequest(config, opts.scope ?? 'openid email profile', opts.params);
  const authUrl = request.url;
  const stop = (u: URL) => u.href.startsWith(REDIRECT_URI) || u.pathname.startsWith('/interaction/');
  const landed = await browser.follow(authUrl, stop);
  const interactionUrl = landed.pathname.startsWith('/interaction/') ? landed : undefined;
  const need = () => {
    if (!interactionUrl) throw new Error(`no interaction: the request landed on ${landed.href}`);
    return interactionUrl;
  };
  return {
    browser,
    landed,
    interactionUrl,
    details: () => browser.json(need()),
    post: (path, body = {}) => browser.json(`${need().href}/${path}`, body),
    async complete(redirectTo) {
      const start = redirectTo ? new URL(redirectTo, authUrl) : landed;
      const callback = await browser.follow(start, (u) => u.href.startsWith(REDIRECT_URI));
      if (!callback.href.startsWith(REDIRECT_URI)) throw new Error(`did not reach the callback: ${callback.href}`);
      const tokens = await request.redeem(callback);
      const claims = tokens.claims();
      if (!claims) throw new Error('no id_token');
      return { tokens, claims };
    },
  };
}

/** A new authorization request up to the password step answered: returns the flow and the /login answer. */
export async function passwordStep(config: oc.Configuration, username: string, password: string, opts: Parameters<typeof beginAuth>[1] = {}) {
  const flow = await beginAuth(config, opts);
  const login = await flow.post('login', { username, password });
  return { flow, login };
}

export const PASSWORD = 'correct horse battery staple';

let userSeq = 0;
/** A new user (through the admin API) with a unique username; `extra` adds roles etc. */
export async function newUser(baseUrl: string, label: string, extra: Record<string, unknown> = {}): Promise<{ id: string; username: string }> {
  const username = `${label}-${process.pid}-${++userSeq}`.toLowerCase();
  const user = await createUser(baseUrl, { external_id: `ext-${username}`, username, password: PASSWORD, ...extra });
  return { id: user.id, username };
}

/** A 6-digit code that is none of the valid codes of steps −2..+2 around `atMs`. */
export async function wrongCode(secret: string, atMs: number = Date.now()): Promise<string> {
  const valid = new Set(await Promise.all([-2, -1, 0, 1, 2].map((s) => codeAt(secret, atMs, s))));
  return ['000000', '111111', '222222', '333333', '444444', '555555'].find((c) => !valid.has(c))!;
}
