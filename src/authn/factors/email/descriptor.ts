import type { FactorDescriptor } from '../../../policy/types.js';

/**
 * A code sent to a verified e-mail address. NIST SP 800-63B rev 4 and OWASP ASVS 5 (6.3.6) do not
 * accept e-mail as an out-of-band authenticator, so it never helps past AAL1. RFC 8176 has no value
 * for e-mail: `email` says which channel it was, beside `otp`.
 */
export const emailDescriptor: FactorDescriptor = {
  method: 'email',
  amr: ['email', 'otp'],
  secondFactor: true,
  phishingResistant: false,
  aal: 1,
  enrollableInLogin: false,
  recovery: false,
  credentialKind: 'email',
};
