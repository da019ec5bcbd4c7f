import type { Db } from '../db.js';
import { confirmedCredential } from './named-credential.js';

const KIND = 'questions';

/** A user's security answers as the questions method reads them: the set they belong to, and a hash per question. */
export interface SecurityAnswerSet {
  credentialId: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  answers: { questionId: string; answerHash: string }[];
}

export function createSecurityAnswerRepository(db: Db) {
  return {
    /** The user's current answers, if they set any. */
    async find(userId: string): Promise<SecurityAnswerSet | undefined> {
      const rows = await db
        .selectFrom('credentials as c')
        .innerJoin('securityAnswers as a', 'a.credentialId', 'c.id')
        .select(['c.id as credentialId', 'c.createdAt', 'c.lastUsedAt', 'a.questionId', 'a.answerHash'])
        .where('c.userId', '=', userId)
        .where('c.kind', '=', KIND)
        .where('c.confirmedAt', 'is not', null)
        .orderBy('a.questionId')
        .execute();
      const first = rows[0];
      if (!first) return undefined;
      // One set per user (replace keeps it so); a second one would only be a leftover, never read.
      const mine = rows.filter((r) => r.credentialId === first.credentialId);
      const { credentialId, createdAt, lastUsedAt } = first;
      return { credentialId, createdAt, lastUsedAt, answers: mine.map(({ questionId, answerHash }) => ({ questionId, answerHash })) };
    },

    /**
     * Replaces the user's answers with these, in one transaction. The user's row is locked first, so
     * concurrent replacements run one after the other and leave exactly one set.
     */
    async replace(userId: string, answers: { questionId: string; answerHash: string }[]): Promise<string> {
      return db.transaction().execute(async (trx) => {
        await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirstOrThrow();
        await trx.deleteFrom('credentials').where('userId', '=', userId).where('kind', '=', KIND).execute();
        const { id } = await trx
          .insertInto('credentials')
          .values(confirmedCredential(userId, KIND, 'Security questions'))
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('securityAnswers')
          .values(answers.map((a) => ({ credentialId: id, ...a })))
          .execute();
        return id;
      });
    },

    /** Removes the user's answers; how many sets there were. */
    async remove(userId: string): Promise<number> {
      const { numDeletedRows } = await db.deleteFrom('credentials').where('userId', '=', userId).where('kind', '=', KIND).executeTakeFirst();
      return Number(numDeletedRows);
    },

    /** Marks the set as used now (for the user's and the admin's view). */
    async touch(credentialId: string): Promise<void> {
      await db.updateTable('credentials').set({ lastUsedAt: new Date() }).where('id', '=', credentialId).execute();
    },
  };
}

export type SecurityAnswerRepository = ReturnType<typeof createSecurityAnswerRepository>;
