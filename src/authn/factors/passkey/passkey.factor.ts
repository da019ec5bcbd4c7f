import { randomUUID } from 'node:crypto';
import type { AuditService } from '../../../audit/audit.service.js';
import type { Clock } from '../../../lib/clock.js';
import type { EphemeralStore } from '../../../store/ephemeral-store.js';
import type { CredentialRepository } from '../../../store/repositories/credential.repository.js';
import type { WebauthnCredentialRepository } from '../../../store/repositories/webauthn-credential.repository.js';
import { eventOf, type Factor } from '../../factor.js';
import { createAssertion, type AssertionState } from './assertion.js';
import { credentialView } from './credential-view.js';
import { passkeyDescriptor } from './descriptor.js';
import { isPasskeyResponse } from './passkey.schema.js';
import { challengeView, enrolmentView } from './passkey.view.js';
import { createRegistration } from './registration.js';
import type { RelyingParty } from './relying-party.js';

export interface PasskeyDeps {
  rp: RelyingParty;
  webauthn: WebauthnCredentialRepository;
  credentials: CredentialRepository;
  ephemeral: EphemeralStore;
  audit: AuditService;
  clock: Clock;
}

/** Whoever asks for registration options without naming themselves gets options only they can answer. */
const NO_BINDING = 'unbound';

/**
 * Passkeys and security keys (WebAuthn Level 3): several per account, each named; a second factor,
 * or the only one (passwordless) when user-verified.
 */
export function createPasskeyFactor(deps: PasskeyDeps): Factor {
  const { webauthn, clock } = deps;
  const registration = createRegistration({ rp: deps.rp, credentials: webauthn, ephemeral: deps.ephemeral, clock });
  const assertion = createAssertion({ rp: deps.rp, credentials: webauthn, audit: deps.audit });

  return {
    descriptor: passkeyDescriptor,
    paths: { challenge: 'passkey', manage: 'passkey' },
    challengeView,
    verify: (ctx, response) => assertion.verify(ctx.accountId, ctx.challenge as AssertionState | undefined, response, ctx.now),
    recognizes: isPasskeyResponse,
    challenge: { start: (ctx) => assertion.start(ctx.accountId, ctx.now, ctx.requiredAal) },
    canReach: (accountId, aal) => assertion.canReach(accountId, aal),
    passwordless: { start: (now) => assertion.startPasswordless(now), identify: (response) => assertion.owner(response) },
    enrolment: {
      // Each start is new options (a WebAuthn challenge is good once); the id only tells renders apart.
      async begin(accountId, label, _issuer, _resume, binding = NO_BINDING) {
        return { credentialId: randomUUID(), shown: (await registration.begin(accountId, label, binding)) as unknown as Record<string, unknown> };
      },
      async confirm(accountId, response, binding = NO_BINDING) {
        const stored = await registration.finish(accountId, binding, response);
        // Registering proves possession of the new key; it is not yet a sign-in with it (no assertion), so it earns no more than AAL2.
        return eventOf(passkeyDescriptor, clock.now(), stored.id, {
          amr: [stored.backupEligible ? 'swk' : 'hwk', ...(stored.userVerified ? ['user'] : [])],
          aal: 2,
        });
      },
      view: enrolmentView,
    },
    remove: async (accountId) => (await deps.credentials.deleteKind(accountId, passkeyDescriptor.method)) > 0,
    selfService: {
      summaryKey: 'passkeys',
      status: async (_accountId, active) => ({ enrolled: active > 0, count: active }),
      enrolmentBody: ({ shown }) => shown,
      enrolmentPaths: { begin: 'register/begin', confirm: 'register/finish' },
      credentials: {
        collection: 'passkeys',
        list: async (accountId) => (await webauthn.listForUser(accountId)).map(credentialView),
        async rename(accountId, id, name) {
          if (!(await webauthn.rename(accountId, id, name))) return undefined;
          const renamed = await webauthn.find(accountId, id);
          return renamed && credentialView(renamed);
        },
        remove: (accountId, id) => webauthn.remove(accountId, id),
      },
    },
  };
}
