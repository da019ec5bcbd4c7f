import type { ClientMetadata } from 'oidc-provider';
import type { SecretBox } from '../lib/crypto.js';
import { hasControlCharacter } from '../lib/text.js';
import type { ClientRecord, ClientRepository } from '../store/repositories/client.repository.js';
import { clientMetadata } from './client-metadata.js';

/**
 * The provider, the login Check and the MFA policy look the client up on every request; the
 * registry read (and the secret's decryption) is kept for a moment. Changes made through this
 * node apply at once, those made on another node within `ttlMs`.
 */
export function createClientCache(clients: Pick<ClientRepository, 'find'>, box: SecretBox, ttlMs = 2000) {
  type Entry = { at: number; record: ClientRecord | undefined; metadata?: ClientMetadata };
  const entries = new Map<string, Entry>();

  async function entry(clientId: string): Promise<Entry> {
    // No client is registered under such an id (the API refuses them) and PostgreSQL would refuse the
    // lookup: the provider answers its usual invalid_client.
    if (hasControlCharacter(clientId)) return { at: 0, record: undefined };
    const hit = entries.get(clientId);
    if (hit && Date.now() - hit.at < ttlMs) return hit;
    const fresh: Entry = { at: Date.now(), record: await clients.find(clientId) };
    if (entries.size > 10_000) entries.clear();
    entries.set(clientId, fresh);
    return fresh;
  }

  return {
    /** The stored client (first_party, mfa_policy, ...), for our own decisions. */
    record: async (clientId: string): Promise<ClientRecord | undefined> => (await entry(clientId)).record,
    /** The same client as oidc-provider metadata, secret opened. */
    async metadata(clientId: string): Promise<ClientMetadata | undefined> {
      const e = await entry(clientId);
      if (e.record && !e.metadata) e.metadata = clientMetadata(e.record, box);
      return e.metadata;
    },
    invalidate(clientId: string): void {
      entries.delete(clientId);
    },
  };
}

export type ClientCache = ReturnType<typeof createClientCache>;
