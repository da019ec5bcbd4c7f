import type { WebauthnCredential } from '../../../store/repositories/webauthn-credential.repository.js';

/** A passkey as its owner and admins see it: never the key or the counter. */
export const credentialView = (c: WebauthnCredential) => ({
  id: c.id,
  name: c.name,
  authenticator: c.authenticatorName,
  aaguid: c.aaguid,
  device_type: c.backupEligible ? 'multi_device' : 'single_device',
  backed_up: c.backedUp,
  user_verified: c.userVerified,
  transports: c.transports,
  created_at: c.createdAt.toISOString(),
  last_used_at: c.lastUsedAt?.toISOString() ?? null,
});
