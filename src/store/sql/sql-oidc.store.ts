import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { OidcPayload, OidcPayloadStore } from '../ephemeral-store.js';

const live = sql<boolean>`(expires_at is null or expires_at > now())`;

export function createSqlOidcStore(db: Db): OidcPayloadStore {
  const base = (model: string) => db.selectFrom('oidcPayloads').select(['payload', 'consumedAt']).where('model', '=', model).where(live);
  const shape = (row?: { payload: OidcPayload; consumedAt: Date | null }): OidcPayload | undefined => {
    if (!row) return undefined;
    return row.consumedAt ? { ...row.payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : row.payload;
  };
  const str = (v: unknown) => (typeof v === 'string' ? v : null);

  return {
    async upsert(model, id, payload, expiresIn) {
      const values = {
        payload: JSON.stringify(payload),
        grantId: str(payload.grantId),
        uid: str(payload.uid),
        userCode: str(payload.userCode),
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
        consumedAt: null,
      };
      await db.insertInto('oidcPayloads').values({ model, id, ...values })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values)).execute();
    },
    find: async (model, id) => shape(await base(model).where('id', '=', id).executeTakeFirst()),
    findByUid: async (model, uid) => shape(await base(model).where('uid', '=', uid).executeTakeFirst()),
    findByUserCode: async (model, code) => shape(await base(model).where('userCode', '=', code).executeTakeFirst()),
    async consume(model, id) {
      const row = await db.updateTable('oidcPayloads').set({ consumedAt: new Date() })
        .where('model', '=', model).where('id', '=', id).where('consumedAt', 'is', null).where(live)
        .returning('id').executeTakeFirst();
      return row !== undefined;
    },
    async destroy(model, id) {
      await db.deleteFrom('oidcPayloads').where('model', '=', model).where('id', '=', id).execute();
    },
    async revokeByGrantId(grantId) {
      await db.deleteFrom('oidcPayloads').where('grantId', '=', grantId).execute();
    },
  };
}
