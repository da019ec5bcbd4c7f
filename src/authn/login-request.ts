import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Aal } from '../policy/types.js';

/** The protocol that asked for a login. The steps are the same for every origin; only the finisher differs. */
export type LoginOrigin = 'oidc' | 'saml' | 'api';

/** The browser's request and response, as the protocol libraries take them. */
export interface HttpExchange {
  req: IncomingMessage;
  res: ServerResponse;
}

/** What a protocol asks of a login, in terms every step understands. */
export interface LoginRequest {
  /** Names this login in URLs (`/interaction/{uid}`) and keys its transaction. */
  uid: string;
  origin: LoginOrigin;
  /** The relying party (OIDC client, SAML service provider) the login is for; its MFA policy applies. */
  clientId: string;
  /** `login` until the user is known and has proved enough, then what the protocol asks next (`consent`). */
  prompt: string;
  /** The signed-in session the request came with, if any. */
  session?: { accountId: string; uid: string };
  /** That session has only to prove more (step-up, reauth interval): no password is asked. */
  stepUp: boolean;
  /** The assurance the relying party asked for (OIDC `acr_values`, SAML `RequestedAuthnContext`). */
  requestedAal?: Aal;
  /** Where the step forms end up after redirects, for the page's Content-Security-Policy `form-action`. */
  formTargets: string[];
  /** What the relying party asks access to, for the consent page. */
  scopes: string[];
  /** The languages the relying party asked the pages in (OIDC `ui_locales`), most wanted first. */
  uiLocales?: string;
}

/** What a finished login proved, as a protocol hands it on (OIDC ID token, SAML assertion). */
export interface LoginResult {
  accountId: string;
  acr: string;
  amr: string[];
  ts: number;
  /** The account's organisation, whose `sessions` settings give the session its lifetime. */
  organizationId?: string;
  /** "Keep me signed in" was asked at the password step (honoured only where the organisation allows it). */
  rememberMe?: boolean;
}

/**
 * One protocol's side of a login: it finds the login a browser is in, and ends it. It is the only
 * code that talks to the protocol's library; the steps between (identify, first factor, MFA
 * decision, challenge, enrolment, trusted device) never do.
 */
export interface LoginProtocol {
  readonly origin: LoginOrigin;
  /** This browser's login `uid`; undefined when it has none of this protocol's (each protocol is asked in turn). */
  load(http: HttpExchange, uid: string): Promise<LoginRequest | undefined>;
  /** When the signed-in session signed in (epoch seconds) and its amr, for a step-up. */
  sessionFacts(request: LoginRequest): Promise<{ authTime: number; amr?: string[] }>;
  /** Hands the finished login to the protocol; returns where the browser goes next. */
  finish(http: HttpExchange, request: LoginRequest, login: LoginResult): Promise<string>;
  /** Records the user's consent to what the relying party asked; returns where the browser goes next. */
  consent(http: HttpExchange, request: LoginRequest): Promise<string>;
  /**
   * The login ends without a result: the user gave up (the relying party is told access was
   * denied), or `unmet`, the account cannot prove what the relying party asked for. Returns where
   * the browser goes next.
   */
  abort(http: HttpExchange, request: LoginRequest, reason?: { unmet: string }): Promise<string>;
}
