/**
 * The one error type our own code throws. `error` is the stable machine code sent to clients
 * (`{error, error_description}`); `expose` false hides the description behind a generic one.
 */
export class IdpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly expose = true,
  ) {
    super(description);
    this.name = 'IdpError';
  }
}

export const badRequest = (description: string, error = 'invalid_request') => new IdpError(400, error, description);
export const unauthorized = (error: string, description: string) => new IdpError(401, error, description);
export const forbidden = (description: string, error = 'insufficient_scope') => new IdpError(403, error, description);
export const notFound = (description = 'not found') => new IdpError(404, 'not_found', description);
export const conflict = (description: string) => new IdpError(409, 'conflict', description);
export const tooManyRequests = (description = 'too many requests, try again later', error = 'too_many_requests') =>
  new IdpError(429, error, description);

// PostgreSQL refuses NUL in text (22021 character_not_in_repertoire) and in jsonb (22P05 untranslatable_character).
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

/** Input that slipped past validation and that the database cannot store: the client's fault (400), never a 500. */
export function isUnstorableText(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code);
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNABORTED',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);
const CONNECTION_MESSAGES = /Connection is closed|Connection terminated|connect ECONNREFUSED|Stream isn't writeable|Reached the max retries|Client has encountered a connection error|timeout exceeded when trying to connect|Command timed out|ClusterAllFailedError|Failed to refresh slots cache|None of startup nodes is available|Cannot use a pool after calling end/;

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
