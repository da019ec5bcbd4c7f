import type { CodeChannel } from '../../delivery/delivery.js';
import { IdpError } from '../../lib/errors.js';
import type { FactorDescriptor } from '../../policy/types.js';
import type { CredentialRepository } from '../../store/repositories/credential.repository.js';
import type { AccountRepository } from '../../store/repositories/account.repository.js';
import type { SecretBox } from '../../lib/crypto.js';
import { FactorError, eventOf, type Factor, type FactorContext } from '../factor.js';
import type { OneTimeCodes } from './codes.js';
import type { CodeSender } from './code-sender.js';
import type { DestinationKind } from './destination.js';
import { otpCodeSchema, sendBody } from './otp.schema.js';

export interface OtpFactorDeps {
  credentials: Pick<CredentialRepository, 'listActive' | 'deleteKind'>;
  accounts: Pick<AccountRepository, 'findById'>;
  box: SecretBox;
  codes: OneTimeCodes;
  sender: CodeSender;
}

/** The challenge path the sent-code methods share. */
export const OTP_CHALLENGE_PATH = 'otp';

/** What a send keeps in the login (or session) for the answer: the destination the code went to. */
export interface SentState {
  destinationId: string;
}

/**
 * A method whose code is sent to one of the account's verified destinations (SMS, voice, e-mail),
 * all at the challenge path `otp`: `send` names the channel and the destination, `verify` answers
 * with the code. The code is bound to the login (or session) that asked for it.
 */
export function createOtpFactor(descriptor: FactorDescriptor, challengeView: string, deps: OtpFactorDeps): Factor {
  const channel = descriptor.method as CodeChannel;
  const kind = descriptor.credentialKind as DestinationKind;

  async function start(ctx: FactorContext, input: unknown) {
    const parsed = sendBody.safeParse(input);
    if (!parsed.success) throw new IdpError('invalid_request', `send: ${parsed.error.issues[0]?.path.join('.') || 'body'} is missing or not valid`);
    if (!ctx.binding) throw new IdpError('invalid_step', 'a code is sent for a login or a session only');
    const user = await deps.accounts.findById(ctx.accountId);
    if (!user) throw new IdpError('invalid_step', 'the account is no longer available');
    const destinationId = parsed.data.destination_id;
    const row = (await deps.credentials.listActive(ctx.accountId, kind)).find((r) => r.id === destinationId && r.secretSealed);
    const shown = await deps.sender.send({
      user,
      binding: ctx.binding,
      channel,
      kind,
      destinationId,
      to: row?.secretSealed ? deps.box.open(row.secretSealed) : undefined,
      purpose: 'sign_in',
    });
    return { shown: { ...shown }, state: { destinationId } satisfies SentState };
  }

  return {
    descriptor,
    paths: { challenge: OTP_CHALLENGE_PATH, manage: descriptor.method, begin: 'send', finish: 'verify' },
    challengeView,
    recognizes: (response) => otpCodeSchema.safeParse(response).success,
    challenge: { start, answered: 'until_verified' },
    async verify(ctx, response) {
      const state = ctx.challenge as Partial<SentState> | undefined;
      if (!ctx.binding || typeof state?.destinationId !== 'string') throw new FactorError('invalid_code', 'no code was sent here');
      const sent = await deps.codes.check(ctx.binding, response);
      // The code of this send: another channel's or destination's code, sent earlier, does not answer it.
      if (sent.channel !== channel || sent.destinationId !== state.destinationId) throw new FactorError('invalid_code', 'the code was sent for another start');
      // A destination removed since the code went out no longer proves anything.
      const still = (await deps.credentials.listActive(ctx.accountId, kind)).some((r) => r.id === state.destinationId);
      if (!still) throw new FactorError('invalid_code', 'the destination was removed');
      return eventOf(descriptor, ctx.now, state.destinationId);
    },
    // Every destination of the kind goes, pending ones included: removing SMS removes the phones, and voice with them.
    remove: async (accountId) => (await deps.credentials.deleteKind(accountId, kind)) > 0,
  };
}
