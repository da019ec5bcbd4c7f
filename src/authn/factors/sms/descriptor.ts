import type { FactorDescriptor } from '../../../policy/types.js';

/** A code sent by SMS to a verified phone: a restricted authenticator that still reaches AAL2 (NIST SP 800-63B §5.1.3.3). */
export const smsDescriptor: FactorDescriptor = {
  method: 'sms',
  amr: ['sms', 'otp'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  // The number is typed at enrolment, which the in-login enrolment step has no field for.
  enrollableInLogin: false,
  recovery: false,
  credentialKind: 'phone',
};
