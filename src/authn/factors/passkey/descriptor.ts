import type { FactorDescriptor } from '../../../policy/types.js';

/**
 * A WebAuthn credential (passkey, security key): a second factor bound to our origin, so phishing
 * resistant (NIST SP 800-63B §5.2.5). Each use says what this credential earned (hwk or swk, user
 * verification, AAL3 or not); these are the most it can.
 */
export const passkeyDescriptor: FactorDescriptor = {
  method: 'passkey',
  amr: ['hwk'],
  secondFactor: true,
  phishingResistant: true,
  aal: 3,
  enrollableInLogin: true,
  recovery: false,
};
