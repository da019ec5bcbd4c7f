import { randomBytes } from 'node:crypto';
import { generateAuthenticationOptions, verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { AuditService } from '../../../audit/audit.service.js';
import type { Aal, AuthEvent } from '../../../policy/types.js';
import type { WebauthnCredential, WebauthnCredentialRepository } from '../../../store/repositories/webauthn-credential.repository.js';
import { FactorError, eventOf, type ChallengeStart } from '../../factor.js';
import { passkeyDescriptor } from './descriptor.js';
import { authenticationResponseSchema, isFramed, passkeyResponseSchema } from './passkey.schema.js';
import type { RelyingParty } from './relying-party.js';
import { userHandleMatches } from './user-handle.js';

/** Kept in the login between the options and the response; never sent to the browser. */
export interface AssertionState {
  challenge: string;
  requireUserVerification: boolean;
  /** No account was named: the credential's user handle names it, and must match (WebAuthn Level 3 §7.2 step 6). */
  passwordless: boolean;
  /** The credentials offered (a step-up to aal3 offers only those that reach it); absent: any of the account's. */
  allowed?: string[];
  /** Epoch ms; the options' `timeout` says the same to the browser. */
  expiresAt: number;
}

export interface AssertionDeps {
  rp: RelyingParty;
  credentials: WebauthnCredentialRepository;
  audit: AuditService;
}

const wrong = (why: string) => new FactorError('invalid_code', why);

/** The WebAuthn response inside what the routes hand over; undefined when it is not one. */
export function assertionOf(response: unknown): AuthenticationResponseJSON | undefined {
  const outer = passkeyResponseSchema.safeParse(response);
  const parsed = outer.success ? authenticationResponseSchema.safeParse(outer.data.credential) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

/**
 * Authentication (WebAuthn Level 3 §7.2): the challenge the server issued for this login, the
 * origin, RP ID hash, type, flags and signature (the library), and here what only the server
 * knows: that the credential belongs to the account being signed in, and the sign counter, moved
 * with a compare-and-set so a cloned authenticator's lower count is caught and audited (§6.1.1).
 */
export function createAssertion(deps: AssertionDeps) {
  const { rp, credentials, audit } = deps;
  const { config } = rp;

  /**
   * The stored credential a response names. A passwordless sign-in asks twice (who, then verify) with
   * the same response object: the second answer is the first one's, read once.
   */
  const seen = new WeakMap<object, WebauthnCredential | undefined>();
  async function lookup(response: unknown, assertion = assertionOf(response)): Promise<WebauthnCredential | undefined> {
    if (!assertion) return undefined;
    const key = typeof response === 'object' && response !== null ? response : undefined;
    if (key && seen.has(key)) return seen.get(key);
    const stored = await credentials.findByCredentialId(assertion.id);
    if (key) seen.set(key, stored);
    return stored;
  }

  /** The credentials that can reach the level asked: AAL3 needs a user-verified, by default device-bound, one. */
  const reaching = (own: WebauthnCredential[], requiredAal?: Aal) =>
    requiredAal === 3 && config.aal3RequiresDeviceBound ? own.filter((c) => !c.backupEligible) : own;

  async function options(
    state: Omit<AssertionState, 'challenge' | 'expiresAt'>,
    now: number,
    allowCredentials?: WebauthnCredential[],
  ): Promise<ChallengeStart> {
    const shown = await generateAuthenticationOptions({
      rpID: rp.id,
      challenge: randomBytes(32),
      timeout: config.challengeSeconds * 1000,
      userVerification: state.requireUserVerification ? 'required' : 'preferred',
      ...(allowCredentials
        ? { allowCredentials: allowCredentials.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })) }
        : {}),
    });
    const kept: AssertionState = { ...state, challenge: shown.challenge, expiresAt: now + config.challengeSeconds * 1000 };
    return { shown: shown as unknown as Record<string, unknown>, state: kept };
  }

  return {
    /** Options limited to the account's own credentials (and, for aal3, to those that reach it). */
    async start(accountId: string, now: number, requiredAal?: Aal): Promise<ChallengeStart> {
      const offered = reaching(await credentials.listForUser(accountId), requiredAal);
      if (!offered.length) throw new FactorError('refused', 'no passkey of this account can reach the assurance asked for');
      const requireUserVerification = requiredAal === 3 || config.userVerification === 'required';
      return options({ requireUserVerification, passwordless: false, allowed: offered.map((c) => c.credentialId) }, now, offered);
    },

    canReach: async (accountId: string, aal: Aal) => reaching(await credentials.listForUser(accountId), aal).length > 0,

    /** Options for whoever answers: a discoverable credential, always user-verified (it is the only factor). */
    startPasswordless: (now: number) => options({ requireUserVerification: true, passwordless: true }, now),

    /** The account a passwordless response names, by its credential: nothing is verified yet. */
    async owner(response: unknown): Promise<{ accountId: string; organizationId: string } | undefined> {
      const stored = await lookup(response);
      return stored && { accountId: stored.userId, organizationId: stored.organizationId };
    },

    async verify(accountId: string, state: AssertionState | undefined, response: unknown, now: number): Promise<AuthEvent> {
      if (!state) throw wrong('no passkey challenge was started');
      if (now > state.expiresAt) throw wrong('the challenge has expired');
      const assertion = assertionOf(response);
      if (!assertion) throw new FactorError('refused', 'credential: must be a WebAuthn authentication response (PublicKeyCredential.toJSON())');
      const stored = await lookup(response, assertion);
      // W3C webauthn#753: in a second-factor step an attacker's own valid credential must not do.
      if (!stored || stored.userId !== accountId) throw wrong('the credential is not one of this account');
      if (state.allowed && !state.allowed.includes(stored.credentialId)) throw wrong('the credential was not offered in this challenge');
      if (isFramed(assertion.response.clientDataJSON, rp.origins)) throw wrong('the ceremony ran in a frame of another site');
      if (state.passwordless && !userHandleMatches(assertion.response.userHandle, accountId)) throw wrong('the user handle does not name the credential owner');
      let info;
      try {
        const verified = await verifyAuthenticationResponse({
          response: assertion,
          expectedChallenge: state.challenge,
          expectedOrigin: rp.origins,
          expectedRPID: rp.id,
          // The counter is judged below, where a regression can be told apart and audited.
          credential: {
            id: stored.credentialId,
            publicKey: new Uint8Array(stored.publicKey),
            counter: 0,
            transports: stored.transports,
          },
          requireUserVerification: state.requireUserVerification,
        });
        if (!verified.verified) throw wrong('the assertion does not verify');
        info = verified.authenticationInfo;
      } catch (err) {
        if (err instanceof FactorError) throw err;
        throw wrong(err instanceof Error ? err.message : 'the assertion does not verify');
      }
      const { newCounter, userVerified, credentialDeviceType, credentialBackedUp } = info;
      // Both zero: an authenticator without counters (synced passkeys). Otherwise it must grow.
      if ((stored.signCount > 0 || newCounter > 0) && newCounter <= stored.signCount) {
        await audit.record({
          type: 'authn.passkey.clone_suspected',
          outcome: 'failure',
          subject: accountId,
          data: { credential: stored.id, stored_count: stored.signCount, presented_count: newCounter },
        });
        throw wrong('the sign counter went back: the authenticator may have been cloned');
      }
      if (!(await credentials.recordUse(stored.id, stored.signCount, newCounter, credentialBackedUp))) throw wrong('another assertion used the counter first');
      const deviceBound = credentialDeviceType === 'singleDevice';
      const reachesAal3 = userVerified && (deviceBound || !config.aal3RequiresDeviceBound);
      // RFC 8176: hwk for a key bound to the device, swk for one that can be copied (synced); user when verified.
      return eventOf(passkeyDescriptor, now, stored.id, {
        amr: [deviceBound ? 'hwk' : 'swk', ...(userVerified ? ['user'] : [])],
        aal: reachesAal3 ? 3 : 2,
        multiFactor: userVerified,
      });
    },
  };
}

export type Assertion = ReturnType<typeof createAssertion>;
