import { MAX_ANSWERS, MAX_ANSWER_LENGTH } from '../authn/factors/questions/questions.schema.js';
import { z } from '../lib/zod.js';

export const STEP_METHODS = ['questions', 'code', 'prompt'] as const;
export type StepMethod = (typeof STEP_METHODS)[number];

/** A platform's answer to an `auth.step` webhook; `security` is checked against the step it answers. */
export const stepAnswerBody = z.strictObject({
  token: z
    .string()
    .min(20)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be the token of a step'),
  method: z.enum(STEP_METHODS),
  security: z.unknown().optional(),
  didNotReceiveCode: z.boolean().optional(),
});
export type StepAnswer = z.infer<typeof stepAnswerBody>;

// Within what the questions factor takes, so an answer it would find malformed is a 400 here that keeps the token.
const identifier = z.string().min(1).max(64);

export const questionAnswers = z
  .array(z.strictObject({ identifier, answer: z.string().min(1).max(MAX_ANSWER_LENGTH) }))
  .min(1)
  .max(MAX_ANSWERS);
export const destinationChoice = z.strictObject({ identifier });
export const codeAnswer = z.strictObject({ identifier, answer: z.string().min(1).max(32) });
