import { sql } from 'kysely';
import type { Db } from '../db.js';
import { confirmedCredential, namedCredentials } from './named-credential.js';
import type { PromptRow, PromptTransport } from '../database.js';

const KIND = 'prompt';

/** A device that receives prompts, as the prompt method reads it. */
export interface PromptDevice {
  id: string;
  userId: string;
  name: string | null;
  transport: PromptTransport;
  publicJwk: Record<string, unknown>;
  subscriptionSealed: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export type NewPrompt = Omit<PromptRow, 'status' | 'deviceId'>;

/** Prompt devices (beside their `credentials` rows), prompts, organisations' prompt webhooks and the VAPID key pair. */
export function createPromptRepository(db: Db) {
  const named = namedCredentials(db, KIND);
  const devices = () =>
    db
      .selectFrom('promptDevices as d')
      .innerJoin('credentials as c', 'c.id', 'd.id')
      .select(['d.id', 'c.userId', 'c.name', 'd.transport', 'd.publicJwk', 'd.subscriptionSealed', 'c.createdAt', 'c.lastUsedAt'])
      .where('c.kind', '=', KIND)
      .where('c.confirmedAt', 'is not', null);

  return {
    /** A confirmed device, its credentials row and its key in one transaction. */
    registerDevice: (d: { userId: string; name: string; transport: PromptTransport; publicJwk: Record<string, unknown>; subscriptionSealed: string | null }) =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('credentials')
          .values(confirmedCredential(d.userId, KIND, d.name))
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('promptDevices')
          .values({ id: row.id, transport: d.transport, publicJwk: JSON.stringify(d.publicJwk), subscriptionSealed: d.subscriptionSealed })
          .execute();
        return row.id;
      }),
    listDevices: (userId: string): Promise<PromptDevice[]> => devices().where('c.userId', '=', userId).orderBy('c.createdAt').orderBy('d.id').execute(),
    findDevice: (userId: string, id: string): Promise<PromptDevice | undefined> =>
      devices().where('c.userId', '=', userId).where('d.id', '=', id).executeTakeFirst(),
    renameDevice: named.rename,
    removeDevice: named.remove,
    async touchDevice(id: string): Promise<void> {
      await db.updateTable('credentials').set({ lastUsedAt: new Date() }).where('id', '=', id).execute();
    },

    /**
     * A new prompt for a login: the login's earlier prompts still open are closed in the same
     * statement (only the latest can be answered), and the user's long-expired ones are dropped.
     */
    async insertPrompt(p: NewPrompt): Promise<void> {
      await sql`with closed as (
          update prompts set status = 'closed' where binding_hash = ${p.bindingHash} and status in ('pending', 'approved', 'denied') returning ref),
        pruned as (delete from prompts where user_id = ${p.userId} and expires_at < ${new Date(p.createdAt.getTime() - 3_600_000)} returning ref)
        insert into prompts (ref, user_id, binding_hash, number, choices, status, app_name, location, created_at, expires_at)
        values (${p.ref}, ${p.userId}, ${p.bindingHash}, ${p.number}, ${sql.val(p.choices)}::smallint[], 'pending', ${p.appName}, ${p.location}, ${p.createdAt}, ${p.expiresAt})`.execute(
        db,
      );
    },
    /** Drops prompts expired more than an hour ago (the sweep timer). */
    async sweepPrompts(now: Date): Promise<void> {
      await db
        .deleteFrom('prompts')
        .where('expiresAt', '<', new Date(now.getTime() - 3_600_000))
        .execute();
    },
    findPrompt: (ref: string): Promise<PromptRow | undefined> => db.selectFrom('prompts').selectAll().where('ref', '=', ref).executeTakeFirst(),
    /** A device's answer: pending → approved/denied, once, and only before the prompt expires (compare-and-set). */
    answerPrompt: (ref: string, status: 'approved' | 'denied', deviceId: string, now: Date): Promise<PromptRow | undefined> =>
      db
        .updateTable('prompts')
        .set({ status, deviceId })
        .where('ref', '=', ref)
        .where('status', '=', 'pending')
        .where('expiresAt', '>', now)
        .returningAll()
        .executeTakeFirst(),
    /**
     * A poll of the login the prompt was started for claims the device's answer, once: approved →
     * used, denied → refused. Answers the status it claimed; undefined when another poll claimed it first.
     */
    claimAnswer: (ref: string, userId: string, bindingHash: string): Promise<'approved' | 'denied' | undefined> =>
      sql<{ status: 'approved' | 'denied' }>`update prompts p set status = case when old.status = 'approved' then 'used' else 'refused' end from prompts old
        where p.ref = ${ref} and old.ref = p.ref and p.user_id = ${userId} and p.binding_hash = ${bindingHash} and p.status in ('approved', 'denied')
        returning old.status as status`
        .execute(db)
        .then((r) => r.rows[0]?.status),
    /** The claimed approval becomes the login's factor, once: used → finished, answering the approving device. */
    finishApproval: (ref: string, userId: string, bindingHash: string): Promise<string | undefined> =>
      db
        .updateTable('prompts')
        .set({ status: 'finished' })
        .where('ref', '=', ref)
        .where('userId', '=', userId)
        .where('bindingHash', '=', bindingHash)
        .where('status', '=', 'used')
        .returning('deviceId')
        .executeTakeFirst()
        .then((r) => r?.deviceId ?? undefined),

    findWebhook: (organizationId: string) => db.selectFrom('promptWebhooks').selectAll().where('organizationId', '=', organizationId).executeTakeFirst(),
    /** The prompt webhook of the user's organisation. */
    findWebhookOfUser: (userId: string) =>
      db
        .selectFrom('promptWebhooks as w')
        .innerJoin('users as u', 'u.organizationId', 'w.organizationId')
        .select(['w.url', 'w.secretSealed'])
        .where('u.id', '=', userId)
        .executeTakeFirst(),
    async putWebhook(organizationId: string, url: string, secretSealed: string): Promise<void> {
      await db
        .insertInto('promptWebhooks')
        .values({ organizationId, url, secretSealed })
        .onConflict((oc) => oc.column('organizationId').doUpdateSet({ url, secretSealed, updatedAt: new Date() }))
        .execute();
    },
    async removeWebhook(organizationId: string): Promise<boolean> {
      const res = await db.deleteFrom('promptWebhooks').where('organizationId', '=', organizationId).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },

    findVapidKeys: () => db.selectFrom('promptVapidKeys').select(['publicKey', 'privateSealed']).executeTakeFirst(),
    /** The first node to get here stores its pair; every node then reads the one stored. */
    async insertVapidKeysOnce(publicKey: string, privateSealed: string): Promise<void> {
      await db
        .insertInto('promptVapidKeys')
        .values({ publicKey, privateSealed })
        .onConflict((oc) => oc.column('singleton').doNothing())
        .execute();
    },
  };
}

export type PromptRepository = ReturnType<typeof createPromptRepository>;
