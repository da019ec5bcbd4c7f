import webpush from 'web-push';
import type { SecretBox } from '../../../lib/crypto.js';
import type { PromptRepository } from '../../../store/repositories/prompt.repository.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/**
 * The IdP's VAPID key pair (RFC 8292), which identifies it to push services: created once in
 * PostgreSQL (private part sealed) so every node pushes as the same server, then read once per process.
 */
export function createVapidKeys(repo: Pick<PromptRepository, 'findVapidKeys' | 'insertVapidKeysOnce'>, box: SecretBox) {
  let loaded: Promise<VapidKeys> | undefined;
  async function load(): Promise<VapidKeys> {
    let row = await repo.findVapidKeys();
    if (!row) {
      const fresh = webpush.generateVAPIDKeys();
      await repo.insertVapidKeysOnce(fresh.publicKey, box.seal(fresh.privateKey));
      row = (await repo.findVapidKeys())!;
    }
    return { publicKey: row.publicKey, privateKey: box.open(row.privateSealed) };
  }
  return {
    get(): Promise<VapidKeys> {
      loaded ??= load();
      // A failed read is tried again next time rather than remembered.
      loaded.catch(() => (loaded = undefined));
      return loaded;
    },
  };
}

export type VapidKeyStore = ReturnType<typeof createVapidKeys>;
