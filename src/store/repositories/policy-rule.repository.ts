import type { Db } from '../db.js';
import type { PolicyRuleRow } from '../database.js';

export interface PolicyRuleFields {
  name: string;
  condition: string;
  outcome: PolicyRuleRow['outcome'];
  methods: string[] | null;
  minAcr: PolicyRuleRow['minAcr'];
  priority: number;
  enabled: boolean;
  organizationId: string | null;
}

export function createPolicyRuleRepository(db: Db) {
  return {
    /** Rules in evaluation order; `organizationId` undefined lists every rule, null only the global ones, else global and that organisation's. */
    list(organizationId?: string | null): Promise<PolicyRuleRow[]> {
      let q = db.selectFrom('policyRules').selectAll();
      if (organizationId === null) q = q.where('organizationId', 'is', null);
      else if (organizationId !== undefined) q = q.where((eb) => eb.or([eb('organizationId', 'is', null), eb('organizationId', '=', organizationId)]));
      return q.orderBy('priority').orderBy('createdAt').orderBy('id').execute();
    },
    find: (id: string): Promise<PolicyRuleRow | undefined> => db.selectFrom('policyRules').selectAll().where('id', '=', id).executeTakeFirst(),
    create: (fields: PolicyRuleFields): Promise<PolicyRuleRow> => db.insertInto('policyRules').values(fields).returningAll().executeTakeFirstOrThrow(),
    update: (id: string, fields: Partial<PolicyRuleFields>): Promise<PolicyRuleRow | undefined> =>
      db
        .updateTable('policyRules')
        .set({ ...fields, updatedAt: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('policyRules').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    },
  };
}

export type PolicyRuleRepository = ReturnType<typeof createPolicyRuleRepository>;
