import type { AuditService } from '../../audit/audit.service.js';
import type { Clock } from '../../lib/clock.js';
import type { CodeDelivery, MailDelivery } from '../../delivery/delivery.js';
import type { SecretBox } from '../../lib/crypto.js';
import type { EffectiveSettings } from '../../policy/settings.js';
import type { FactorDescriptor, MfaMethod } from '../../policy/types.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';
import type { CredentialRepository } from '../../store/repositories/credential.repository.js';
import type { SecurityAnswerRepository } from '../../store/repositories/security-answer.repository.js';
import type { AccountRepository } from '../../store/repositories/account.repository.js';
import type { CodeSender } from '../one-time-codes/code-sender.js';
import type { OneTimeCodes } from '../one-time-codes/codes.js';
import type { WebauthnCredentialRepository } from '../../store/repositories/webauthn-credential.repository.js';
import type { Factor } from '../factor.js';
import { createBackupCodeFactor } from './backup-code/backup-code.factor.js';
import { createPasskeyFactor } from './passkey/passkey.factor.js';
import { createPromptFactor } from './prompt/prompt.factor.js';
import type { PromptService } from './prompt/prompts.js';
import type { PromptRepository } from '../../store/repositories/prompt.repository.js';
import { relyingParty, type WebauthnConfig } from './passkey/relying-party.js';
import { createQuestionsFactor } from './questions/questions.factor.js';
import { createTotpFactor } from './totp/totp.factor.js';
import { createSmsFactor } from './sms/sms.factor.js';
import { createVoiceFactor } from './voice/voice.factor.js';
import { createEmailFactor } from './email/email.factor.js';

export interface FactorDeps {
  credentials: CredentialRepository;
  webauthn: WebauthnCredentialRepository;
  ephemeral: EphemeralStore;
  audit: AuditService;
  box: SecretBox;
  clock: Clock;
  issuer: string;
  config: { webauthn: WebauthnConfig };
  /** How codes and e-mails leave the IdP. */
  delivery: { codes: CodeDelivery; mail: MailDelivery };
  /** Security answers (hashes), beside the user's `credentials` row of kind `questions`. */
  securityAnswers: SecurityAnswerRepository;
  /** The settings in force for an account (its organisation's), for methods configured there. */
  settingsFor: (accountId: string) => Promise<EffectiveSettings>;
  /** Push approval: the prompts, the devices' store, and whether push endpoints on http://127.0.0.1 are allowed (never in production). */
  prompt: { service: PromptService; repo: PromptRepository; allowLoopbackHttp: boolean };
  accounts: Pick<AccountRepository, 'findById'>;
  /** Codes sent by SMS, voice or e-mail: their store and their sending (`one-time-codes/`). */
  otp: { codes: OneTimeCodes; sender: CodeSender };
}

/**
 * Every MFA method, one folder each; this is the only list of them. The order is the order in
 * which a challenge offers them.
 */
export function createFactorRegistry(deps: FactorDeps, plugins: readonly Factor[] = []) {
  // Methods plugged in by an embedder come first, and replace a built-in method of the same name; backup codes stay last (see forResponse).
  const builtIn: readonly Factor[] = [
    createTotpFactor(deps),
    createPasskeyFactor({ ...deps, rp: relyingParty(deps.issuer, deps.config.webauthn) }),
    createQuestionsFactor({ answers: deps.securityAnswers, ephemeral: deps.ephemeral, settingsFor: deps.settingsFor }),
    createPromptFactor({ ...deps, ...deps.prompt }),
    // After TOTP, whose codes have the same form: a code that names no started challenge is a TOTP code.
    ...[createSmsFactor, createVoiceFactor, createEmailFactor].map((create) => create({ ...deps, ...deps.otp })),
    createBackupCodeFactor(deps.credentials),
  ];
  const factors: readonly Factor[] = [...plugins, ...builtIn.filter((b) => !plugins.some((p) => p.descriptor.method === b.descriptor.method))];
  const byMethod = new Map<MfaMethod, Factor>(factors.map((f) => [f.descriptor.method, f]));
  const descriptors: readonly FactorDescriptor[] = factors.map((f) => f.descriptor);

  /** How many active credentials give the method, given the number of each kind (a phone gives SMS and voice). */
  const activeOf = (counts: Readonly<Record<string, number>>, method: MfaMethod): number => {
    const d = byMethod.get(method)?.descriptor;
    return counts[d?.credentialKind ?? method] ?? 0;
  };
  /** Methods with an active credential, given the number of active credentials of each kind. */
  const enrolledIn = (counts: Readonly<Record<string, number>>): MfaMethod[] => descriptors.filter((d) => activeOf(counts, d.method) > 0).map((d) => d.method);

  return {
    factors,
    descriptors,
    methods: descriptors.map((d) => d.method),
    get: (method: MfaMethod) => byMethod.get(method),
    /**
     * The method whose form a code has. A response no method recognises goes to the last one, so
     * that it is still checked, and counted as a failure, by a method.
     */
    forResponse: (response: unknown): Factor => factors.find((f) => f.recognizes(response)) ?? factors[factors.length - 1]!,
    /** Methods this account can use now, from one query. */
    async enrolledMethods(accountId: string): Promise<MfaMethod[]> {
      return enrolledIn(await deps.credentials.countActiveByKind(accountId));
    },
    enrolledIn,
    activeOf,
    /** The credentials kind a method's credentials are stored under. */
    kindOf: (method: MfaMethod): string => byMethod.get(method)?.descriptor.credentialKind ?? method,
  };
}

export type FactorRegistry = ReturnType<typeof createFactorRegistry>;
