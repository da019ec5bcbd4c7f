import { IdpError, badRequest } from '../lib/errors.js';
import type { AuthEvent, FactorKind, MfaMethod } from '../policy/types.js';

export interface FactorContext {
  accountId: string;
  now: number;
}

/**
 * One MFA method. Stateless: challenge state (if any) is kept by the caller in the login
 * transaction; `verify` returns the event it earned or throws FactorError.
 */
export interface Factor {
  readonly kind: FactorKind;
  readonly method: MfaMethod;
  readonly secondFactor: boolean;
  readonly phishingResistant: boolean;
  verify(ctx: FactorContext, response: unknown): Promise<AuthEvent>;
}

export class FactorError extends Error {
  constructor(readonly code: 'invalid_code' | 'malformed', message = 'the code is not valid') {
    super(message);
  }

  /** What the client is told: 400 for a value that is not a code at all, 401 for a wrong one. */
  toHttp(): IdpError {
    return this.code === 'malformed' ? badRequest(`code: ${this.message}`) : new IdpError(401, 'invalid_code', 'the code is not valid');
  }
}
