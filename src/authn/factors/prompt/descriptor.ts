import type { FactorDescriptor } from '../../../policy/types.js';

/**
 * Push approval with number matching: a prompt on a device the user registered, answered with a
 * signature by that device's key. The key is something the user has, held in software (a browser's
 * non-extractable WebCrypto key, or the organisation's app), and the user must pick on the device
 * the number the sign-in page shows: RFC 8176 `swk` (proof of possession of a software-secured key)
 * says what was proven; `mca` would add nothing a verifier can rely on. With number matching an
 * out-of-band authenticator counts toward AAL2 (NIST SP 800-63B §5.1.3.3); it is not bound to our
 * origin, so not phishing resistant.
 */
export const promptDescriptor: FactorDescriptor = {
  method: 'prompt',
  amr: ['swk'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  enrollableInLogin: false,
  recovery: false,
};
