import type { HttpExchange, LoginResult } from './login-request.js';

/** The browser's single sign-on session, whichever protocol signed it in. */
export interface SsoSession {
  /** Stable for the session's life (its id, in the cookie, is not, and never leaves the cookie). */
  uid: string;
  accountId: string;
  /** Epoch seconds. */
  authTime: number;
  amr?: string[];
  acr?: string;
  /** Epoch seconds: when the session ends at the latest (absolute lifetime). */
  endsAt: number;
}

/**
 * One SSO session for every protocol: a user signed in for an OIDC client is signed in for a SAML
 * service provider too, and the other way round; ending it ends it for all.
 */
export interface SsoSessions {
  /** The signed-in session this browser's cookie names, if it is live by its organisation's session policy (timeouts, bindings); marks it used. */
  current(http: HttpExchange): Promise<SsoSession | undefined>;
  /**
   * Records a finished login in this browser's session: the same account's session gets the new
   * authentication under a new id (no fixation); another account's session is ended first.
   */
  signIn(http: HttpExchange, login: LoginResult): Promise<SsoSession>;
  find(uid: string): Promise<SsoSession | undefined>;
  /** Ends a session everywhere: its OIDC grants and tokens are revoked and their relying parties told. */
  end(uid: string): Promise<boolean>;
  /** Drops this browser's session cookie. */
  forget(http: HttpExchange): void;
}
