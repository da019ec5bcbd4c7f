import type { ErrorCode } from '../../lib/errors.js';

/**
 * The HTTP status of each error code (RFC 9110): 400 for a request that is wrong, 401 when who is
 * asking could not be established, 403 when they are known but not allowed, 429 for too much too fast.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  invalid_client_metadata: 400,
  invalid_step: 400,
  invalid_method: 400,
  invalid_credentials: 401,
  invalid_code: 401,
  invalid_signature: 401,
  invalid_token: 401,
  login_required: 401,
  access_denied: 403,
  insufficient_scope: 403,
  invalid_csrf_token: 403,
  step_up_required: 403,
  method_not_allowed: 403,
  self_approval_refused: 403,
  self_review_refused: 403,
  account_locked: 403,
  account_disabled: 403,
  not_found: 404,
  conflict: 409,
  factor_required: 409,
  prompt_expired: 410,
  too_many_requests: 429,
  too_many_attempts: 429,
  resend_too_soon: 429,
  mfa_locked: 429,
  delivery_failed: 503,
};
