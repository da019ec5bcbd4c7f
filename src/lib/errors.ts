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

/**
 * A dependency (PostgreSQL, Redis) failed. Callers must answer 503 and never turn this
 * into a security verdict such as "invalid credentials" (fail closed, ory/hydra#3811 class).
 */
export class UnavailableError extends IdpError {
  constructor(readonly dependency: string, cause?: unknown) {
    super(503, 'temporarily_unavailable', `${dependency} is unavailable, try again shortly`);
    this.name = 'UnavailableError';
    if (cause) this.cause = cause;
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNABORTED',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);
const CONNECTION_MESSAGES = /Connection is closed|Connection terminated|connect ECONNREFUSED|Stream isn't writeable|Reached the max retries|Client has encountered a connection error|timeout exceeded when trying to connect|Command timed out|ClusterAllFailedError|Failed to refresh slots cache|None of startup nodes is available|Cannot use a pool after calling end/;

/** True for errors that mean "the store could not be reached", as opposed to bad data. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof UnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (CONNECTION_MESSAGES.test(err.message)) return true;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some(isConnectionError)) return true;
  return err.cause !== undefined && err.cause !== err && isConnectionError(err.cause);
}
