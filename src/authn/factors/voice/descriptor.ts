import type { FactorDescriptor } from '../../../policy/types.js';

/** A code read out in a call to a verified phone: the same out-of-band authenticator as SMS (NIST SP 800-63B §5.1.3.3), AAL2. */
export const voiceDescriptor: FactorDescriptor = {
  method: 'voice',
  amr: ['tel', 'otp'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  enrollableInLogin: false,
  recovery: false,
  credentialKind: 'phone',
};
