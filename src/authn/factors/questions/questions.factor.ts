import { randomBytes, randomInt } from 'node:crypto';
import { badRequest } from '../../../lib/errors.js';
import type { EffectiveSettings, QuestionSettings } from '../../../policy/settings.js';
import type { FactorDescriptor } from '../../../policy/types.js';
import type { EphemeralStore } from '../../../store/ephemeral-store.js';
import type { SecurityAnswerRepository } from '../../../store/repositories/security-answer.repository.js';
import { FactorError, eventOf, type Factor, type FactorContext } from '../../factor.js';
import { hashPassword, verifyPassword } from '../../password.js';
import {
  MIN_ANSWER_LENGTH,
  challengeAnswersSchema,
  challengeStateSchema,
  looksLikeAnswers,
  normalizeAnswer,
  parseJson,
  pendingSchema,
  setAnswersSchema,
  type ChallengeState,
} from './questions.schema.js';
import { challengeView } from './questions.view.js';

/**
 * Security questions: something the user knows, like the password, so no independent second factor
 * and never more than AAL1 (NIST SP 800-63B rev 4 does not accept knowledge-based authentication;
 * OWASP ASVS 5 6.3.6). `secondFactor` is set because it is what the policy engine reads as "the MFA
 * step this policy names was done": a policy that allows only this method can be met with it, at
 * AAL1. `aal: 1` is what keeps it weak: the engine's assurance steps (acr_values=aal2, `min_acr`,
 * step-up, factor changes) count only methods of AAL2 and above, and the AAL derived from it stays 1.
 * A recovery method: offered beside the method a policy names, never the one factor left.
 */
export const questionsDescriptor: FactorDescriptor = {
  method: 'questions',
  amr: ['kba'],
  secondFactor: true,
  phishingResistant: false,
  aal: 1,
  enrollableInLogin: false,
  recovery: true,
};

export interface QuestionsDeps {
  answers: SecurityAnswerRepository;
  ephemeral: EphemeralStore;
  /** The settings in force for the account (its organisation's). */
  settingsFor(accountId: string): Promise<Pick<EffectiveSettings, 'questions'>>;
}

/** A layer may have lowered one number below another: what is asked never exceeds what is set, nor that the catalogue. */
function counts(q: QuestionSettings) {
  const required = Math.min(q.required_answers, q.catalogue.length);
  return { required, asked: Math.min(q.asked, required) };
}

/** `n` distinct items, each draw from the CSPRNG (a partial Fisher-Yates shuffle). */
function pick<T>(items: readonly T[], n: number): T[] {
  const pool = [...items];
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

/** The questions drawn for an account and not yet answered right: asked again, whichever login begins. */
const pendingKey = (accountId: string) => `questions-pending:${accountId}`;
const PENDING_SECONDS = 7 * 86_400;

const malformed = (issue: { path: PropertyKey[]; message: string }) =>
  new FactorError('malformed', `${issue.path.map(String).join('.') || 'answers'}: ${issue.message}`);

export function createQuestionsFactor(deps: QuestionsDeps): Factor {
  const { answers } = deps;
  const catalogueOf = async (accountId: string) => (await deps.settingsFor(accountId)).questions;

  /** The user's answers validated against the catalogue in force: each hashed, or a 400 naming what is wrong. */
  async function hashed(accountId: string, input: unknown) {
    const parsed = setAnswersSchema.safeParse(input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys.join(',')}` : '';
      throw badRequest(`${issue.path.map(String).join('.') || 'body'}${keys}: ${issue.message}`);
    }
    const settings = await catalogueOf(accountId);
    const known = new Set(settings.catalogue.map((q) => q.id));
    const { required } = counts(settings);
    const given = parsed.data.answers;
    if (given.length < required) throw badRequest(`answers: answer at least ${required} questions`);
    const seenQuestions = new Set<string>();
    const seenAnswers = new Set<string>();
    const normalised = given.map((a, i) => {
      if (!known.has(a.question_id)) throw badRequest(`answers.${i}.question_id: not one of the questions offered`);
      if (seenQuestions.has(a.question_id)) throw badRequest(`answers.${i}.question_id: each question is answered once`);
      const answer = normalizeAnswer(a.answer);
      if ([...answer].length < MIN_ANSWER_LENGTH) throw badRequest(`answers.${i}.answer: at least ${MIN_ANSWER_LENGTH} letters or digits`);
      // One answer for two questions would make them one secret.
      if (seenAnswers.has(answer)) throw badRequest(`answers.${i}.answer: each question needs a different answer`);
      seenQuestions.add(a.question_id);
      seenAnswers.add(answer);
      return { questionId: a.question_id, answer };
    });
    return Promise.all(normalised.map(async ({ questionId, answer }) => ({ questionId, answerHash: await hashPassword(answer) })));
  }

  /**
   * The questions drawn earlier and not yet answered right, while they still fit. Starting again
   * never shows other questions, so no one can begin until the subset is the one whose answers they
   * know (OWASP: ask the same questions until they are answered).
   */
  async function pending(accountId: string, credentialId: string, askable: { questionId: string }[], asked: number) {
    const raw = await deps.ephemeral.get(pendingKey(accountId));
    const kept = pendingSchema.safeParse(raw ? parseJson(raw) : undefined);
    if (!kept.success || kept.data.credentialId !== credentialId || kept.data.questionIds.length !== asked) return undefined;
    const ids = kept.data.questionIds;
    return ids.every((id) => askable.some((a) => a.questionId === id)) ? ids : undefined;
  }

  async function draw(accountId: string, credentialId: string, askable: { questionId: string }[], asked: number) {
    const questionIds = pick(askable, asked).map((a) => a.questionId);
    await deps.ephemeral.set(pendingKey(accountId), JSON.stringify({ credentialId, questionIds }), PENDING_SECONDS);
    return questionIds;
  }

  async function start(ctx: FactorContext) {
    const [set, settings] = await Promise.all([answers.find(ctx.accountId), catalogueOf(ctx.accountId)]);
    if (!set) throw new FactorError('refused', 'no security questions are set');
    const texts = new Map(settings.catalogue.map((q) => [q.id, q.text]));
    // Answers to questions the organisation has since withdrawn cannot be asked: their text is gone.
    const askable = set.answers.filter((a) => texts.has(a.questionId));
    const { asked } = counts(settings);
    if (askable.length < asked) throw new FactorError('refused', 'the security questions have changed: set your answers again');
    const questionIds = (await pending(ctx.accountId, set.credentialId, askable, asked)) ?? (await draw(ctx.accountId, set.credentialId, askable, asked));
    // Identifiers of this challenge alone: an answer names the question it answers only through them.
    const items = questionIds.map((questionId) => ({ identifier: randomBytes(12).toString('base64url'), questionId }));
    const state: ChallengeState = { accountId: ctx.accountId, binding: ctx.binding, credentialId: set.credentialId, items };
    return { shown: { questions: items.map((it) => ({ identifier: it.identifier, question: texts.get(it.questionId)! })) }, state };
  }

  async function verify(ctx: FactorContext, response: unknown) {
    if (!looksLikeAnswers(response)) throw new FactorError('malformed', 'answers must be a list of {identifier, answer}');
    const parsed = challengeAnswersSchema.safeParse(response);
    if (!parsed.success) throw malformed(parsed.error.issues[0]!);
    const state = challengeStateSchema.safeParse(ctx.challenge);
    if (!state.success) throw new FactorError('invalid_code', 'no security question challenge');
    const { items, credentialId } = state.data;
    if (state.data.accountId !== ctx.accountId || (ctx.binding && state.data.binding !== ctx.binding))
      throw new FactorError('invalid_code', 'the challenge belongs to another login');
    const set = await answers.find(ctx.accountId);
    const given = parsed.data.answers;
    // Every asked question answered once, and nothing else: otherwise wrong, but the hashes are still all checked.
    const shape = given.length === items.length && new Set(given.map((g) => g.identifier)).size === given.length;
    const stored = (questionId: string) => (set?.credentialId === credentialId ? set.answers.find((a) => a.questionId === questionId)?.answerHash : undefined);
    const results = await Promise.all(
      items.map((it) => verifyPassword(stored(it.questionId), normalizeAnswer(given.find((g) => g.identifier === it.identifier)?.answer ?? ''))),
    );
    if (!shape || !results.every(Boolean)) throw new FactorError('invalid_code', 'a security answer is wrong');
    await Promise.all([answers.touch(credentialId), deps.ephemeral.del(pendingKey(ctx.accountId))]);
    return eventOf(questionsDescriptor, ctx.now, credentialId);
  }

  return {
    descriptor: questionsDescriptor,
    // The answers go to the challenge path itself: /interaction/{uid}/mfa/questions.
    paths: { challenge: 'questions', manage: 'questions', finish: '' },
    challengeView,
    verify,
    recognizes: looksLikeAnswers,
    challenge: { start },
    remove: async (accountId) => (await answers.remove(accountId)) > 0,
    selfService: {
      summaryKey: 'questions',
      shownToAdmins: true,
      async status(accountId) {
        const [set, settings] = await Promise.all([answers.find(accountId), catalogueOf(accountId)]);
        const texts = new Map(settings.catalogue.map((q) => [q.id, q.text]));
        return {
          set: set !== undefined,
          questions: (set?.answers ?? []).map((a) => ({ id: a.questionId, text: texts.get(a.questionId) ?? null })),
          catalogue: settings.catalogue,
          required_answers: counts(settings).required,
          asked: counts(settings).asked,
          ...(set ? { set_at: set.createdAt.toISOString(), last_used_at: set.lastUsedAt?.toISOString() ?? null } : {}),
        };
      },
      async set(accountId, input) {
        const rows = await hashed(accountId, input);
        await answers.replace(accountId, rows);
        const questions = rows.map((r) => r.questionId);
        return { shown: { status: 'success', questions }, audit: { type: 'authn.security_answers.changed', data: { questions } } };
      },
    },
  };
}
