import type { Db } from '../db.js';
import type { ClientRow } from '../database.js';

export interface ClientRecord {
  clientId: string;
  clientSecretSealed: string | null;
  metadata: Record<string, unknown>;
  firstParty: boolean;
  mfaPolicy: Record<string, unknown> | null;
  organizationId: string;
}

const toRecord = (r: ClientRow): ClientRecord => ({
  clientId: r.clientId,
  clientSecretSealed: r.clientSecretSealed,
  metadata: r.metadata,
  firstParty: r.firstParty,
  mfaPolicy: r.mfaPolicy,
  organizationId: r.organizationId,
});

export function createClientRepository(db: Db) {
  return {
    async find(clientId: string): Promise<ClientRecord | undefined> {
      const row = await db.selectFrom('clients').selectAll().where('clientId', '=', clientId).executeTakeFirst();
      return row && toRecord(row);
    },
    /** A page of clients, of one organisation when given. */
    async list(limit: number, offset: number, organizationId: string | null = null): Promise<ClientRecord[]> {
      let query = db.selectFrom('clients').selectAll();
      if (organizationId !== null) query = query.where('organizationId', '=', organizationId);
      const rows = await query.orderBy('createdAt').limit(limit).offset(offset).execute();
      return rows.map(toRecord);
    },
    /** Inserts; false when the client_id is taken. */
    async insert(c: ClientRecord): Promise<boolean> {
      const row = await db
        .insertInto('clients')
        .values({
          clientId: c.clientId,
          clientSecretSealed: c.clientSecretSealed,
          metadata: JSON.stringify(c.metadata),
          firstParty: c.firstParty,
          mfaPolicy: c.mfaPolicy ? JSON.stringify(c.mfaPolicy) : null,
          organizationId: c.organizationId,
        })
        .onConflict((oc) => oc.column('clientId').doNothing())
        .returning('clientId')
        .executeTakeFirst();
      return row !== undefined;
    },
    async update(clientId: string, c: Omit<ClientRecord, 'clientId' | 'organizationId'>): Promise<void> {
      await db
        .updateTable('clients')
        .set({
          clientSecretSealed: c.clientSecretSealed,
          metadata: JSON.stringify(c.metadata),
          firstParty: c.firstParty,
          mfaPolicy: c.mfaPolicy ? JSON.stringify(c.mfaPolicy) : null,
          updatedAt: new Date(),
        })
        .where('clientId', '=', clientId)
        .execute();
    },
    async delete(clientId: string): Promise<boolean> {
      const res = await db.deleteFrom('clients').where('clientId', '=', clientId).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
  };
}

export type ClientRepository = ReturnType<typeof createClientRepository>;
