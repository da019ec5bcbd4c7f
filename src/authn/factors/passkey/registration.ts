import { createHash, randomBytes } from 'node:crypto';
import { generateRegistrationOptions, verifyRegistrationResponse, type RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeAttestationObject, isoCBOR } from '@simplewebauthn/server/helpers';
import type { Clock } from '../../../lib/clock.js';
import type { EphemeralStore } from '../../../store/ephemeral-store.js';
import type { WebauthnCredential, WebauthnCredentialRepository } from '../../../store/repositories/webauthn-credential.repository.js';
import { FactorError } from '../../factor.js';
import { authenticatorName } from './authenticator-names.js';
import { isFramed, passkeyResponseSchema, registrationResponseSchema } from './passkey.schema.js';
import type { RelyingParty } from './relying-party.js';
import { userHandleOf } from './user-handle.js';

export interface RegistrationDeps {
  rp: RelyingParty;
  credentials: WebauthnCredentialRepository;
  ephemeral: EphemeralStore;
  clock: Clock;
}

/** What the server keeps between the options and the response: single-use, for the one who asked. */
interface PendingRegistration {
  challenge: string;
  requireUserVerification: boolean;
}

const refused = (why: string) => new FactorError('refused', `the passkey was not registered: ${why}`);

/**
 * Registration (WebAuthn Level 3 §7.1). The options are kept server-side under the account and
 * whoever asked (a session, a login), taken once by the response, so a replayed or foreign
 * response finds nothing to answer. Everything the policy says is checked here, never left to the
 * browser: algorithms, attachment, user verification, attestation, and that the credential id is
 * registered to no one.
 */
export function createRegistration(deps: RegistrationDeps) {
  const { rp, credentials, ephemeral } = deps;
  const { config } = rp;
  const key = (accountId: string, binding: string) => `webauthn-reg:${createHash('sha256').update(`${accountId}\n${binding}`).digest('base64url')}`;

  async function begin(accountId: string, label: string, binding: string) {
    const own = await credentials.listForUser(accountId);
    const requireUserVerification = config.userVerification === 'required';
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userID: userHandleOf(accountId),
      userName: label,
      challenge: randomBytes(32),
      timeout: config.challengeSeconds * 1000,
      attestationType: config.attestation,
      excludeCredentials: own.map((c) => ({ id: c.credentialId, transports: c.transports as AuthenticatorTransport[] })),
      authenticatorSelection: {
        residentKey: 'preferred',
        userVerification: requireUserVerification ? 'required' : 'preferred',
        ...(config.authenticatorAttachment === 'any' ? {} : { authenticatorAttachment: config.authenticatorAttachment }),
      },
      supportedAlgorithmIDs: config.algorithms,
    });
    const pending: PendingRegistration = { challenge: options.challenge, requireUserVerification };
    await ephemeral.set(key(accountId, binding), JSON.stringify(pending), config.challengeSeconds);
    return options;
  }

  /**
   * The attestation object is one CBOR item and nothing after it (the library reads the first item
   * only), and under `direct` it carries a certificate chain (the library then checks it ends in an
   * anchor). Re-encoding keeps a CBOR item's length, which the library itself relies on.
   */
  function assertAttested(attestationObject: Uint8Array<ArrayBuffer>) {
    const decoded = decodeAttestationObject(attestationObject);
    if (isoCBOR.encode(decoded as unknown as Parameters<typeof isoCBOR.encode>[0]).length !== attestationObject.length) {
      throw new FactorError('invalid_code', 'bytes follow the attestation object');
    }
    if (config.attestation !== 'direct') return;
    if (decoded.get('fmt') === 'none' || !decoded.get('attStmt').get('x5c')) throw refused('the authenticator must prove its make (attestation)');
  }

  async function finish(accountId: string, binding: string, response: unknown): Promise<WebauthnCredential> {
    const input = passkeyResponseSchema.safeParse(response);
    const credential = input.success ? registrationResponseSchema.safeParse(input.data.credential) : undefined;
    if (!input.success || !credential?.success)
      throw new FactorError('refused', 'credential: must be a WebAuthn registration response (PublicKeyCredential.toJSON())');
    const raw = await ephemeral.take(key(accountId, binding));
    if (!raw) throw refused('no registration was started here, or it has expired; start again');
    const pending = JSON.parse(raw) as PendingRegistration;
    const body = credential.data as RegistrationResponseJSON;
    if (config.authenticatorAttachment !== 'any' && body.authenticatorAttachment !== config.authenticatorAttachment) {
      throw refused(`only ${config.authenticatorAttachment} authenticators are allowed`);
    }
    let info;
    try {
      if (isFramed(body.response.clientDataJSON, rp.origins)) throw new FactorError('invalid_code', 'the ceremony ran in a frame of another site');
      assertAttested(new Uint8Array(Buffer.from(body.response.attestationObject, 'base64url')));
      const verified = await verifyRegistrationResponse({
        response: body,
        expectedChallenge: pending.challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        requireUserVerification: pending.requireUserVerification,
        supportedAlgorithmIDs: config.algorithms,
      });
      info = verified.registrationInfo;
      if (!verified.verified || !info) throw new FactorError('invalid_code', 'the registration does not verify');
    } catch (err) {
      if (err instanceof FactorError) throw err;
      // A response that does not verify (challenge, origin, RP ID, signature, flags) is a wrong answer, like a wrong code.
      throw new FactorError('invalid_code', err instanceof Error ? err.message : 'the registration does not verify');
    }
    const name = authenticatorName(info.aaguid);
    const stored = await credentials.register({
      userId: accountId,
      name: input.data.name ?? name ?? 'Passkey',
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey),
      signCount: info.credential.counter,
      transports: body.response.transports ?? [],
      aaguid: info.aaguid,
      authenticatorName: name ?? null,
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backedUp: info.credentialBackedUp,
      userVerified: info.userVerified,
      attestationFormat: info.fmt,
    });
    if (stored === 'duplicate') throw refused('this credential is already registered');
    return stored;
  }

  return { begin, finish };
}
