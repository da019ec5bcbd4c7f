import type { Db } from '../db.js';
import type { SamlEndpoint, SamlServiceProviderRow } from '../database.js';

export type SamlServiceProviderRecord = Omit<SamlServiceProviderRow, 'createdAt' | 'updatedAt' | 'id'>;
export type SamlServiceProvider = SamlServiceProviderRow;

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (err: unknown) => (err as { code?: unknown }).code === UNIQUE_VIOLATION;

const columns = (sp: SamlServiceProviderRecord) => ({
  ...sp,
  acsEndpoints: JSON.stringify(sp.acsEndpoints satisfies SamlEndpoint[]),
  sloEndpoints: JSON.stringify(sp.sloEndpoints),
  attributeMapping: JSON.stringify(sp.attributeMapping),
});

export function createSamlServiceProviderRepository(db: Db) {
  return {
    async find(id: string): Promise<SamlServiceProvider | undefined> {
      return db.selectFrom('samlServiceProviders').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async findByEntityId(entityId: string): Promise<SamlServiceProvider | undefined> {
      return db.selectFrom('samlServiceProviders').selectAll().where('entityId', '=', entityId).executeTakeFirst();
    },
    /** A page of service providers, of one organisation when given. */
    async list(limit: number, offset: number, organizationId: string | null = null): Promise<SamlServiceProvider[]> {
      let query = db.selectFrom('samlServiceProviders').selectAll();
      if (organizationId !== null) query = query.where('organizationId', '=', organizationId);
      return query.orderBy('createdAt').orderBy('id').limit(limit).offset(offset).execute();
    },
    /** Inserts; undefined when the entity ID is taken. */
    async insert(sp: SamlServiceProviderRecord): Promise<SamlServiceProvider | undefined> {
      return db
        .insertInto('samlServiceProviders')
        .values(columns(sp))
        .onConflict((oc) => oc.column('entityId').doNothing())
        .returningAll()
        .executeTakeFirst();
    },
    /** Replaces every field; undefined when the new entity ID belongs to another service provider. */
    async update(id: string, sp: SamlServiceProviderRecord): Promise<SamlServiceProvider | undefined> {
      try {
        return await db
          .updateTable('samlServiceProviders')
          .set({ ...columns(sp), updatedAt: new Date() })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
      } catch (err) {
        if (isUniqueViolation(err)) return undefined;
        throw err;
      }
    },
    async delete(id: string): Promise<boolean> {
      const res = await db.deleteFrom('samlServiceProviders').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
  };
}

export type SamlServiceProviderRepository = ReturnType<typeof createSamlServiceProviderRepository>;
