import type { ClientMetadata } from 'oidc-provider';
import type { SecretBox } from '../lib/crypto.js';
import type { ClientRecord } from '../store/repositories/client.repository.js';
import type { ProviderHolder } from './provider-holder.js';

/** A stored client as oidc-provider metadata; the secret is kept sealed at rest and opened only here. */
export function clientMetadata(record: ClientRecord, box: SecretBox): ClientMetadata {
  return {
    ...record.metadata,
    client_id: record.clientId,
    ...(record.clientSecretSealed ? { client_secret: box.open(record.clientSecretSealed) } : {}),
  };
}

/** The provider's own validator: it throws what the provider would say about this client at login time. */
export async function validateClientMetadata(providers: ProviderHolder, metadata: Record<string, unknown>): Promise<void> {
  await providers.current.Client.validate(metadata as ClientMetadata);
}
