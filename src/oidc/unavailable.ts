import { errors } from 'oidc-provider';
import { isConnectionError, isUnstorableText } from '../lib/errors.js';

/**
 * oidc-provider renders any error it does not know as a 500 server_error. A store outage must
 * reach the client as 503 temporarily_unavailable instead, never as a verdict on the request;
 * a value the database refuses to store or compare (a NUL byte) is the request's fault: 400.
 */
export function asProviderError(err: unknown): unknown {
  if (isUnstorableText(err)) return new errors.InvalidRequest('the request contains characters that cannot be stored');
  if (!isConnectionError(err)) return err;
  const e = new errors.TemporarilyUnavailable('a storage dependency is unavailable, try again shortly');
  Object.assign(e, { status: 503, statusCode: 503, expose: true });
  return e;
}

export async function guard<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw asProviderError(err);
  }
}
