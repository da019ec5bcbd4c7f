import type { ClientMetadata } from 'oidc-provider';
import type { SecretBox } from '../lib/crypto.js';
import type { ClientRepository } from '../store/repositories/client.repository.js';
import { clientMetadata } from './client-metadata.js';

/**
 * The provider looks its client up on every request; the registry read (and the secret's
 * decryption) is kept for a moment. Changes made through this node apply at once, those made
 * on another node within `ttlMs`.
 */
export function createClientCache(clients: Pick<ClientRepository, 'find'>, box: SecretBox, ttlMs = 2000) {
  const entries = new Map<string, { at: number; value: ClientMetadata | undefined }>();
  return {
    async find(clientId: string): Promise<ClientMetadata | undefined> {
      const hit = entries.get(clientId);
      if (hit && Date.now() - hit.at < ttlMs) return hit.value;
      const record = await clients.find(clientId);
      const value = record && clientMetadata(record, box);
      if (entries.size > 10_000) entries.clear();
      entries.set(clientId, { at: Date.now(), value });
      return value;
    },
    invalidate(clientId: string): void {
      entries.delete(clientId);
    },
  };
}

export type ClientCache = ReturnType<typeof createClientCache>;
