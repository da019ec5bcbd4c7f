import type { MfaService, Outcome, RequestMeta } from '../authn/mfa.service.js';
import type { DestinationService } from '../authn/one-time-codes/destinations.service.js';
import { hmac, randomToken } from '../lib/crypto.js';
import { badRequest, IdpError, notFound, type ErrorCode } from '../lib/errors.js';
import type { z } from '../lib/zod.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { Aal, MfaMethod } from '../policy/types.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { WebhookRepository } from '../store/repositories/webhook.repository.js';
import type { WebhookQueue } from './events.js';
import { codeAnswer, destinationChoice, questionAnswers, type StepAnswer, type StepMethod } from './step.schema.js';

/** Where a code can be sent, as the platform is shown it: `identifier` names the method and the credential. */
interface Destination {
  identifier: string;
  type: 'text' | 'voice' | 'email';
  method: MfaMethod;
  credentialId: string;
  mask: string;
  label: string;
}

/** One step waiting for the platform's answer; kept under the keyed hash of its token, taken by the answer. */
interface StepState {
  uid: string;
  organizationId: string;
  accountId: string;
  subscriptionId: string;
  method: StepMethod;
  stage: 'questions' | 'destination' | 'code' | 'prompt';
  destinations?: Destination[];
  destination?: Destination;
  /** The browser's request that started it: the login's events and audit name the user's address, not the platform's. */
  meta: Pick<RequestMeta, 'ip' | 'userAgent'> & { requestedAal?: Aal };
}

/** What the browser's login takes once the platform answered: the login's outcome, or why it ended. */
type Result = { outcome: Outcome } | { error: ErrorCode; description: string };

/** How the platform is shown each method that sends a code. */
const CODE_CHANNELS: Partial<Record<MfaMethod, { type: Destination['type']; label: string }>> = {
  sms: { type: 'text', label: 'Text message to' },
  voice: { type: 'voice', label: 'Voice call to' },
  email: { type: 'email', label: 'Email to' },
};

/** Which kind of step a method is run as, in the order the login offers the methods. */
const stepMethodOf = (m: MfaMethod): StepMethod | undefined =>
  m === 'questions' ? 'questions' : m === 'prompt' ? 'prompt' : CODE_CHANNELS[m] ? 'code' : undefined;

function parse<S extends z.ZodType>(schema: S, value: unknown, field: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    throw badRequest(`${[field, ...path.map(String)].join('.')}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
  }
  return parsed.data;
}

export interface StepWebhookServiceDeps {
  mfa: Pick<MfaService, 'transactions' | 'startChallenge' | 'verify' | 'approvedOutOfBand'>;
  settings: Pick<SettingsService, 'effective'>;
  /** The verified destinations a login offering some methods lists (their masks, one entry per method). */
  destinations: Pick<DestinationService, 'offered'>;
  subscriptions: Pick<WebhookRepository, 'findSubscription'>;
  queue: WebhookQueue;
  ephemeral: EphemeralStore;
  /** Keys the hashes step tokens are stored under. */
  tokenKey: Buffer | string;
  ttlSeconds: number;
}

/**
 * MFA steps run through an organisation's own systems: the login's challenge goes to the platform as
 * an `auth.step` webhook carrying a random token (stored only as a keyed hash, bound to the login and
 * the organisation, answered once); the platform answers through the API and the registered
 * factors judge the answer (`startChallenge` / `verify`). The browser meanwhile polls `status`, and
 * takes the outcome once, in its own request, so the login finishes where it started.
 */
export function createStepWebhookService(deps: StepWebhookServiceDeps) {
  const { ephemeral, ttlSeconds } = deps;
  const tokenKey = (token: string) => `whstep:t:${hmac(deps.tokenKey, token)}`;
  const startedKey = (uid: string) => `whstep:u:${uid}`;
  const resultKey = (uid: string) => `whstep:o:${uid}`;

  /** Sends the platform a step and keeps its state under a new token. */
  async function ask(state: StepState, data: { input: unknown[]; showRetry?: boolean; error?: string }): Promise<void> {
    const token = randomToken(32);
    await ephemeral.set(tokenKey(token), JSON.stringify(state), ttlSeconds);
    await deps.queue.sendTo(
      state.subscriptionId,
      {
        type: 'auth.step',
        resource: { type: 'user', id: state.accountId },
        data: { method: state.method, input: data.input, token, ...(data.showRetry ? { showRetry: true } : {}), ...(data.error ? { error: data.error } : {}) },
      },
      { sealed: true },
    );
  }

  async function askQuestions(state: Omit<StepState, 'stage'>, error?: string): Promise<void> {
    const shown = await deps.mfa.startChallenge({ uid: state.uid, method: 'questions', requiredAal: state.meta.requestedAal });
    const questions = Array.isArray(shown.questions) ? (shown.questions as unknown[]) : [];
    await ask({ ...state, stage: 'questions' }, { input: questions, ...(error ? { error } : {}) });
  }

  const askCode = (state: Omit<StepState, 'stage'>, destination: Destination, error?: string) =>
    ask(
      { ...state, stage: 'code', destination, destinations: undefined },
      {
        input: [{ identifier: destination.identifier, question: `What is the code sent to ${destination.mask}?` }],
        showRetry: true,
        ...(error ? { error } : {}),
      },
    );

  /** The account's verified destinations for the offered methods, as the sign-in page lists them. */
  async function destinationsOf(accountId: string, offered: readonly MfaMethod[]): Promise<Destination[]> {
    return (await deps.destinations.offered(accountId, offered)).flatMap(({ id, channel, mask }) => {
      const shown = CODE_CHANNELS[channel];
      return shown
        ? [{ identifier: `${channel}:${id}`, type: shown.type, method: channel, credentialId: id, mask, label: `${shown.label} ${mask}`.trim() }]
        : [];
    });
  }

  /** Sends a code; when it cannot be sent (too soon after the last one), the step's token stays valid. */
  async function sendCode(state: StepState, d: Destination, key: string): Promise<void> {
    try {
      await startCode(state, d);
    } catch (err) {
      await ephemeral.set(key, JSON.stringify(state), ttlSeconds);
      throw err;
    }
  }
  const startCode = (state: StepState, d: Destination) =>
    deps.mfa.startChallenge({
      uid: state.uid,
      method: d.method,
      input: { channel: d.method, destination_id: d.credentialId },
      requiredAal: state.meta.requestedAal,
    });

  /** The login is over, one way or the other: the browser takes the result once, and the platform is told. */
  async function conclude(state: StepState, result: Result): Promise<void> {
    await ephemeral.set(resultKey(state.uid), JSON.stringify(result), ttlSeconds);
    // A login that goes on to another challenge starts its steps again at the next poll.
    await ephemeral.del(startedKey(state.uid));
    const done = 'outcome' in result && (result.outcome.kind === 'finish' || result.outcome.kind === 'trust_device');
    await deps.queue.sendTo(state.subscriptionId, {
      type: done ? 'auth.completed' : 'auth.failed',
      resource: { type: 'user', id: state.accountId },
      data: { method: state.method, ...('outcome' in result ? { status: result.outcome.kind } : { reason: result.error }) },
    });
  }

  /** A factor's verdict on the platform's answer: the login's next outcome, another try at the same step, or its end. */
  async function judged(state: StepState, run: () => Promise<Outcome>, again: () => Promise<void>): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await run();
    } catch (err) {
      if (!(err instanceof IdpError)) throw err;
      if (err.error === 'invalid_code') return again();
      return conclude(state, { error: err.error, description: err.description });
    }
    await conclude(state, { outcome });
  }

  /** The step method and the organisation's subscription, when this login's second factor is run through its app. */
  async function runBy(tx: { organizationId: string; methods: readonly MfaMethod[] }) {
    const method = tx.methods.map(stepMethodOf).find((m) => m !== undefined);
    if (!method) return undefined;
    const { step_webhooks: config } = await deps.settings.effective(tx.organizationId);
    const subscription = config.enabled && config.subscription_id ? await deps.subscriptions.findSubscription(config.subscription_id) : undefined;
    // Only the organisation's own subscription (or a global one) may carry its users' steps.
    if (!subscription?.enabled || (subscription.organizationId !== null && subscription.organizationId !== tx.organizationId)) return undefined;
    return { method, subscription };
  }

  return {
    /** Whether the browser at this login's MFA step is to continue in the organisation's app. */
    async runsInApp(uid: string): Promise<boolean> {
      const tx = await deps.mfa.transactions.get(uid);
      return tx?.stage === 'mfa' && (await runBy(tx)) !== undefined;
    },

    /**
     * The browser's poll: the first one starts the steps (when the organisation runs them through
     * webhooks), later ones answer `pending` until the platform's answer decided the login; that
     * result is taken once.
     */
    async status(input: { uid: string; requestedAal?: Aal } & RequestMeta): Promise<{ pending: { method: StepMethod } } | { outcome: Outcome }> {
      const taken = await ephemeral.take(resultKey(input.uid));
      if (taken) {
        const result = JSON.parse(taken) as Result;
        if ('error' in result) throw new IdpError(result.error, result.description);
        return { outcome: result.outcome };
      }
      const tx = await deps.mfa.transactions.get(input.uid);
      if (!tx || tx.stage !== 'mfa') throw new IdpError('invalid_step', 'this interaction is not at the mfa step');
      const { method, subscription } = (await runBy(tx)) ?? {};
      if (!method || !subscription) throw new IdpError('invalid_method', "this sign-in's second factor is not run through the organization's app");
      // Of concurrent polls, one starts the steps.
      if ((await ephemeral.increment(startedKey(input.uid), ttlSeconds)) > 1) return { pending: { method } };
      const state: Omit<StepState, 'stage'> = {
        uid: input.uid,
        organizationId: tx.organizationId,
        accountId: tx.accountId,
        subscriptionId: subscription.id,
        method,
        meta: { ip: input.ip, userAgent: input.userAgent, requestedAal: input.requestedAal },
      };
      try {
        if (method === 'questions') await askQuestions(state);
        else if (method === 'prompt') await ask({ ...state, stage: 'prompt' }, { input: [] });
        else {
          const destinations = await destinationsOf(tx.accountId, tx.methods);
          if (!destinations.length) throw new IdpError('invalid_method', 'the account has no verified destination for a code');
          await ask(
            { ...state, stage: 'destination', destinations },
            { input: destinations.map((d) => ({ type: d.type, mask: d.mask, identifier: d.identifier, label: d.label })) },
          );
        }
      } catch (err) {
        await ephemeral.del(startedKey(input.uid));
        throw err;
      }
      return { pending: { method } };
    },

    /**
     * The platform's answer to a step. A token of another organisation's login is answered as an
     * unknown one (404); the body is checked against the step before the token is taken, so a
     * malformed answer does not use it up; the token is then taken once.
     */
    async answer(body: StepAnswer, caller: { organizationId: string | null }, meta: RequestMeta): Promise<{ success: true; message: string }> {
      const key = tokenKey(body.token);
      const raw = await ephemeral.get(key);
      const state = raw ? (JSON.parse(raw) as StepState) : undefined;
      if (!state || (caller.organizationId !== null && caller.organizationId !== state.organizationId)) throw notFound('no such step');
      if (body.method !== state.method) throw badRequest(`method: this step is a ${state.method} step`);
      const choose = (identifier: string, among: readonly Destination[]) => {
        const found = among.find((d) => d.identifier === identifier);
        if (!found) throw badRequest('security.identifier: not one of the destinations offered');
        return found;
      };
      let act: () => Promise<void>;
      const login = { uid: state.uid, requestedAal: state.meta.requestedAal, ip: state.meta.ip, userAgent: state.meta.userAgent, requestId: meta.requestId };
      switch (state.stage) {
        case 'questions': {
          const answers = parse(questionAnswers, body.security, 'security');
          act = () =>
            judged(
              state,
              () => deps.mfa.verify({ ...login, method: 'questions', code: { answers } }),
              () => askQuestions(state, 'invalid_answer'),
            );
          break;
        }
        case 'destination': {
          const chosen = choose(parse(destinationChoice, body.security, 'security').identifier, state.destinations ?? []);
          act = async () => {
            await sendCode(state, chosen, key);
            await askCode(state, chosen);
          };
          break;
        }
        case 'code': {
          const destination = state.destination!;
          if (body.didNotReceiveCode) {
            if (body.security !== undefined) throw badRequest('security: not with didNotReceiveCode');
            act = async () => {
              await sendCode(state, destination, key);
              await askCode(state, destination);
            };
            break;
          }
          const { identifier, answer } = parse(codeAnswer, body.security, 'security');
          choose(identifier, [destination]);
          act = () =>
            judged(
              state,
              () => deps.mfa.verify({ ...login, method: destination.method, code: answer }),
              () => askCode(state, destination, 'invalid_answer'),
            );
          break;
        }
        case 'prompt':
          if (body.security !== undefined) throw badRequest('security: a prompt is acknowledged without one');
          act = () =>
            judged(
              state,
              () => deps.mfa.approvedOutOfBand({ ...login, method: 'prompt' }),
              () => Promise.resolve(),
            );
          break;
      }
      if (!(await ephemeral.take(key))) throw notFound('no such step');
      await act();
      return { success: true, message: 'answer received; the result follows by webhook' };
    },
  };
}

export type StepWebhookService = ReturnType<typeof createStepWebhookService>;
