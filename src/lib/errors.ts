/**
 * Every `error` code our own code reports: stable, since clients branch on them. Which status each
 * gets on the wire is the transport's business (the HTTP layer's table).
 */
export const ERROR_CODES = [
  // The request itself is wrong.
  'invalid_request', // malformed, or names something that does not fit (the description says which field)
  'invalid_client_metadata', // a client registration the OIDC rules refuse
  'invalid_step', // the login is not at the step this request is for
  'invalid_method', // the MFA method is not offered or cannot do this here
  // Who is asking could not be established.
  'invalid_credentials', // wrong login name or password (one answer for every reason)
  'invalid_code', // a second-factor response that is not right
  'invalid_signature', // a device's answer not signed by a key registered to the account
  'invalid_token', // a missing, expired or unknown API key or access token
  'login_required', // no signed-in session
  // Known, but not allowed.
  'access_denied', // the policy refuses this login
  'insufficient_scope', // the credential lacks the right
  'invalid_csrf_token', // the form did not come from this site or has expired
  'step_up_required', // a fresher or stronger authentication is needed first
  'method_not_allowed', // the sign-in policy does not allow this MFA method
  'self_approval_refused', // a break-glass request approved by the key that made it
  'self_review_refused', // a break-glass grant reviewed by the key that requested it
  'account_locked',
  'account_disabled', // the account cannot be used now
  // The state of things stands in the way.
  'not_found',
  'conflict', // it exists already
  'factor_required', // the last factor the policy needs cannot be removed
  'prompt_expired', // a push prompt no longer open: expired, or replaced by a newer one
  // Too much, too fast.
  'too_many_requests', // a rate limit
  'too_many_attempts', // the attempts of one challenge are used up
  'resend_too_soon', // a one-time code went to the same place moments ago
  'mfa_locked', // the account's second factor is locked after repeated failures
  // Something beyond us failed.
  'delivery_failed', // no SMS/voice provider or mail server took the message
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface IdpErrorOptions {
  /** For the log only, never sent: what the deliberately plain description leaves out. */
  detail?: Record<string, unknown>;
  /** False hides the description behind a generic one. */
  expose?: boolean;
  /** Seconds until trying again can succeed (a rate limit's window), for the transport to announce. */
  retryAfterSec?: number;
}

/** The one error type our own code throws; the client gets `{error, error_description}`. */
export class IdpError extends Error {
  readonly detail?: Record<string, unknown>;
  readonly expose: boolean;
  readonly retryAfterSec?: number;

  constructor(
    readonly error: ErrorCode,
    readonly description: string,
    options: IdpErrorOptions = {},
  ) {
    super(description);
    this.name = 'IdpError';
    this.detail = options.detail;
    this.expose = options.expose ?? true;
    this.retryAfterSec = options.retryAfterSec;
  }
}

export const badRequest = (description: string, options?: IdpErrorOptions) => new IdpError('invalid_request', description, options);
export const notFound = (description = 'not found') => new IdpError('not_found', description);
export const conflict = (description: string) => new IdpError('conflict', description);
export const tooManyRequests = (retryAfterSec?: number) => new IdpError('too_many_requests', 'too many requests, try again later', { retryAfterSec });

// PostgreSQL refuses NUL in text (22021 character_not_in_repertoire) and in jsonb (22P05 untranslatable_character).
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

/** Input that slipped past validation and that the database cannot store: the client's fault (400), never a 500. */
export function isUnstorableText(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code);
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ECONNABORTED',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
]);
const CONNECTION_MESSAGES =
  /Connection is closed|Connection terminated|connect ECONNREFUSED|Stream isn't writeable|Reached the max retries|Client has encountered a connection error|timeout exceeded when trying to connect|Command timed out|ClusterAllFailedError|Failed to refresh slots cache|None of startup nodes is available|Cannot use a pool after calling end/;

/**
 * True for errors that mean "the store could not be reached", as opposed to bad data. Callers answer
 * 503 and never turn such an error into a security verdict like "invalid credentials" (fail closed).
 * Duck-typed, not `instanceof Error`: socket errors are created by Node's own realm, which is not
 * the realm of the code that catches them under a VM sandbox such as Jest's.
 */
export function isConnectionError(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message)) return true;
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isConnectionError(x, depth + 1))) return true;
  return e.cause !== undefined && e.cause !== err && isConnectionError(e.cause, depth + 1);
}
