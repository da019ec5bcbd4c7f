import type { Db } from '../db.js';
import type { DeliveryProviderRow } from '../database.js';

export interface DeliveryProviderFields {
  organizationId: string | null;
  type: DeliveryProviderRow['type'];
  name: string;
  channels: string[];
  priority: number;
  enabled: boolean;
  config: Record<string, unknown>;
  secretSealed: string;
}

export function createDeliveryProviderRepository(db: Db) {
  const toColumns = (f: Partial<DeliveryProviderFields>) => ({ ...f, config: f.config === undefined ? undefined : JSON.stringify(f.config) });
  return {
    /** Every provider (`undefined`), only the global ones (null), or the global ones and one organisation's, in priority order. */
    list(organizationId?: string | null): Promise<DeliveryProviderRow[]> {
      let q = db.selectFrom('deliveryProviders').selectAll();
      if (organizationId === null) q = q.where('organizationId', 'is', null);
      else if (organizationId !== undefined) q = q.where((eb) => eb.or([eb('organizationId', 'is', null), eb('organizationId', '=', organizationId)]));
      return q.orderBy('priority').orderBy('createdAt').orderBy('id').execute();
    },
    find: (id: string): Promise<DeliveryProviderRow | undefined> => db.selectFrom('deliveryProviders').selectAll().where('id', '=', id).executeTakeFirst(),
    create: (f: DeliveryProviderFields): Promise<DeliveryProviderRow> =>
      db
        .insertInto('deliveryProviders')
        .values({ ...f, config: JSON.stringify(f.config) })
        .returningAll()
        .executeTakeFirstOrThrow(),
    update: (id: string, f: Partial<DeliveryProviderFields>): Promise<DeliveryProviderRow | undefined> =>
      db
        .updateTable('deliveryProviders')
        .set({ ...toColumns(f), updatedAt: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('deliveryProviders').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    },
  };
}

export type DeliveryProviderRepository = ReturnType<typeof createDeliveryProviderRepository>;
