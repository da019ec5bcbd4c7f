import { sql, type Kysely } from 'kysely';

/**
 * A user's answers to security questions: one row per answer, under the user's `credentials` row of
 * kind `questions` (which says the method is set up and goes with it). Only an argon2id hash of the
 * normalised answer is kept.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('security_answers')
    .addColumn('credential_id', 'uuid', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('question_id', 'text', (c) => c.notNull())
    .addColumn('answer_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('security_answers_pkey', ['credential_id', 'question_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('security_answers').ifExists().execute();
}
