import { z } from '../../../lib/zod.js';
import { questionIdSchema } from '../../../policy/settings.js';

/** Shorter answers (after normalisation) are too easy to guess. */
export const MIN_ANSWER_LENGTH = 3;
/** As typed; longer input is refused before any work. */
export const MAX_ANSWER_LENGTH = 256;
/** More answers than any catalogue lets a user set (or a challenge ask) is not a request of this method. */
export const MAX_ANSWERS = 10;

/**
 * One spelling per answer, so that what the user remembers matches however it is typed: Unicode
 * compatibility forms (NFKC: full-width letters, ligatures), case (upper- then lower-casing also
 * folds ß to ss), punctuation and invisible format characters dropped, runs of white space made one.
 */
export function normalizeAnswer(input: string): string {
  return input
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[\p{P}\p{Cf}]/gu, '')
    .replace(/\s+/gu, ' ')
    .trim();
}

const answerText = z.string().max(MAX_ANSWER_LENGTH);

/** `PUT /api/v1/mfa/questions`: the user's answers, by question id. */
export const setAnswersSchema = z
  .object({
    answers: z
      .array(z.object({ question_id: questionIdSchema, answer: answerText }).strict())
      .min(1)
      .max(MAX_ANSWERS),
  })
  .strict();

/** A challenge's identifier for one question it asked (random, 12 bytes base64url). */
const identifier = z.string().regex(/^[A-Za-z0-9_-]{16}$/);

/** The answer to a challenge: each asked question's identifier with the answer. */
export const challengeAnswersSchema = z
  .object({
    answers: z
      .array(z.object({ identifier: z.string().max(64), answer: answerText }).strict())
      .min(1)
      .max(MAX_ANSWERS),
  })
  .strict();

/** What a challenge keeps server-side; read back through this, so a state of another shape verifies nothing. */
export const challengeStateSchema = z.object({
  accountId: z.string(),
  binding: z.string().optional(),
  credentialId: z.string(),
  items: z.array(z.object({ identifier, questionId: questionIdSchema })).min(1),
});
export type ChallengeState = z.infer<typeof challengeStateSchema>;

/** The questions drawn for an account until answered (kept in the short-lived store). */
export const pendingSchema = z.object({ credentialId: z.string(), questionIds: z.array(questionIdSchema).min(1) });

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** A response of this method's form: an object with a list of answers (the rest is checked by `verify`). */
export const looksLikeAnswers = (response: unknown): boolean =>
  typeof response === 'object' && response !== null && Array.isArray((response as { answers?: unknown }).answers);
