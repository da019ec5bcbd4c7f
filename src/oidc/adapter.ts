import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { OidcPayloadStore } from '../store/ephemeral-store.js';
import type { ClientCache } from './client-cache.js';
import { guard } from './unavailable.js';

/** Models whose loss would sign users out or reopen a replay window: always PostgreSQL. */
const DURABLE = new Set(['Session', 'Grant', 'RefreshToken']);

export interface AdapterDeps {
  durable: OidcPayloadStore;
  shortLived: OidcPayloadStore;
  clients: Pick<ClientCache, 'metadata'>;
}

export type AdapterClass = new (model: string) => Adapter;

export function createAdapterClass(deps: AdapterDeps): AdapterClass {
  const stores = deps.durable === deps.shortLived ? [deps.durable] : [deps.durable, deps.shortLived];
  const revokeGrant = (grantId: string) => Promise.all(stores.map((s) => s.revokeByGrantId(grantId)));

  return class StoreAdapter implements Adapter {
    private readonly store: OidcPayloadStore;

    constructor(readonly model: string) {
      this.store = DURABLE.has(model) ? deps.durable : deps.shortLived;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the admin API');
      await guard(() => this.store.upsert(this.model, id, payload as Record<string, unknown>, expiresIn));
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') {
        return guard(() => deps.clients.metadata(id));
      }
      return guard(() => this.store.find(this.model, id)) as Promise<AdapterPayload | undefined>;
    }

    findByUid(uid: string) {
      return guard(() => this.store.findByUid(this.model, uid)) as Promise<AdapterPayload | undefined>;
    }

    findByUserCode(userCode: string) {
      return guard(() => this.store.findByUserCode(this.model, userCode)) as Promise<AdapterPayload | undefined>;
    }

    /**
     * The provider reads `consumed` and then calls this, so two concurrent redemptions would both
     * pass its check. Here only one wins; the loser is treated as a reuse: the grant is revoked.
     */
    async consume(id: string): Promise<void> {
      const won = await guard(() => this.store.consume(this.model, id));
      if (won) return;
      const payload = await guard(() => this.store.find(this.model, id));
      if (typeof payload?.grantId === 'string') await guard(() => revokeGrant(payload.grantId as string));
      throw new errors.InvalidGrant(`${this.model} already consumed`);
    }

    async destroy(id: string): Promise<void> {
      await guard(() => this.store.destroy(this.model, id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await guard(() => revokeGrant(grantId));
    }
  };
}
