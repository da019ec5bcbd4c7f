import { SettingsService } from '@simplewebauthn/server';
import type { Config } from '../../../config.js';

export type WebauthnConfig = Config['webauthn'];

/** The formats whose statements can carry a certificate chain; under `direct` each must end in a configured anchor. */
const CHAINED_FORMATS = ['packed', 'fido-u2f', 'tpm', 'android-key', 'apple'] as const;

/**
 * Who we are to authenticators: the RP ID is the issuer's host name and the expected origin its
 * origin (WebAuthn Level 3 §5.1.3, §13.4.9), plus any configured origins of the same RP ID.
 */
export function relyingParty(issuer: string, config: WebauthnConfig) {
  const url = new URL(issuer);
  if (config.attestation === 'direct') {
    // The attestation library keeps its roots process-wide; without them it would skip the chain check.
    for (const identifier of CHAINED_FORMATS) SettingsService.setRootCertificates({ identifier, certificates: config.trustAnchors });
  }
  return {
    id: url.hostname,
    name: config.rpName,
    origins: [url.origin, ...config.extraOrigins.map((o) => new URL(o).origin)],
    config,
  };
}

export type RelyingParty = ReturnType<typeof relyingParty>;
