import { afterAll, describe, expect, it } from '@jest/globals';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  MetadataService,
  SettingsService,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type MetadataStatement,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';
import { createAttestationCa, createAttestationSigner } from '../helpers/attestation-certs.js';
import {
  appendBytes,
  padClientData,
  SoftAuthenticator,
  truncate,
  type AssertionKnobs,
  type RegistrationKnobs,
  type SoftAlgorithm,
  type SoftAuthenticatorOptions,
} from '../helpers/soft-authenticator.js';

/**
 * The soft authenticator checked against the WebAuthn library the IdP uses: its honest answers
 * verify, and each forged answer is refused by the library's own checks. A forgery the library
 * accepts is shown as such, since the relying party then has to refuse it itself.
 */

const ORIGIN = 'https://idp.example.test';
const RP_ID = 'idp.example.test';
const AAGUID = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const AAGUID_TEXT = '01020304-0506-0708-090a-0b0c0d0e0f10';

const authenticator = (opts: Partial<SoftAuthenticatorOptions> = {}) => new SoftAuthenticator({ origin: ORIGIN, aaguid: AAGUID, ...opts });

const registrationOptions = (attestationType: 'none' | 'direct' = 'none', excludeCredentials: { id: string }[] = []) =>
  generateRegistrationOptions({
    rpName: 'Test IdP',
    rpID: RP_ID,
    userName: 'alice',
    attestationType,
    excludeCredentials,
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });

const verifyRegistration = (options: PublicKeyCredentialCreationOptionsJSON, response: RegistrationResponseJSON, requireUserVerification = false) =>
  verifyRegistrationResponse({ response, expectedChallenge: options.challenge, expectedOrigin: ORIGIN, expectedRPID: RP_ID, requireUserVerification });

/** Registers a credential honestly and returns what the relying party would store. */
async function register(soft: SoftAuthenticator, knobs: RegistrationKnobs = {}) {
  const options = await registrationOptions();
  const result = await verifyRegistration(options, await soft.create(options, knobs));
  expect(result.verified).toBe(true);
  return { stored: result.registrationInfo!.credential, userId: options.user.id, info: result.registrationInfo! };
}

/** One assertion through the library against `stored`, as a relying party would verify it. */
async function assert(soft: SoftAuthenticator, stored: WebAuthnCredential, knobs: AssertionKnobs = {}, requireUserVerification = true) {
  const options = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: stored.id }], userVerification: 'required' });
  const response = await soft.get(options, knobs);
  return verifyAuthenticationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: stored,
    requireUserVerification,
  });
}

async function refusedRegistration(knobs: RegistrationKnobs, requireUserVerification = false, message?: RegExp) {
  const options = await registrationOptions();
  const attempt = verifyRegistration(options, await authenticator().create(options, knobs), requireUserVerification);
  await (message ? expect(attempt).rejects.toThrow(message) : expect(attempt).rejects.toThrow());
}

describe('soft authenticator: honest ceremonies verify', () => {
  it.each<[SoftAlgorithm, 'none' | 'packed-self']>([
    ['ES256', 'none'],
    ['RS256', 'none'],
    ['EdDSA', 'none'],
    ['ES256', 'packed-self'],
    ['RS256', 'packed-self'],
    ['EdDSA', 'packed-self'],
  ])('%s with %s attestation registers and then signs in', async (algorithm, attestation) => {
    const soft = authenticator();
    const { stored, info } = await register(soft, { algorithm, attestation });
    expect(info).toMatchObject({
      fmt: attestation === 'none' ? 'none' : 'packed',
      aaguid: AAGUID_TEXT,
      userVerified: true,
      credentialDeviceType: 'singleDevice',
    });
    const first = await assert(soft, stored);
    expect(first).toMatchObject({ verified: true, authenticationInfo: { newCounter: 1, userVerified: true } });
    const second = await assert(soft, { ...stored, counter: first.authenticationInfo.newCounter });
    expect(second.authenticationInfo.newCounter).toBe(2);
  });

  it('packed attestation with an x5c chain verifies under its configured root', async () => {
    const ca = await createAttestationCa();
    const signer = await createAttestationSigner(ca, { aaguid: AAGUID });
    SettingsService.setRootCertificates({ identifier: 'packed', certificates: [ca.pem] });
    try {
      const options = await registrationOptions('direct');
      const result = await verifyRegistration(options, await authenticator({ attestation: { packed: signer } }).create(options));
      expect(result).toMatchObject({ verified: true, registrationInfo: { fmt: 'packed', aaguid: AAGUID_TEXT } });
    } finally {
      SettingsService.setRootCertificates({ identifier: 'packed', certificates: [] });
    }
  });

  it('a discoverable credential answers options without allowCredentials with the user handle it was created for', async () => {
    const soft = authenticator();
    const { stored, userId } = await register(soft);
    const other = await register(soft, { discoverable: false });
    const options = await generateAuthenticationOptions({ rpID: RP_ID, userVerification: 'required' });
    const response = await soft.get(options);
    expect(response).toMatchObject({ id: stored.id, response: { userHandle: userId } });
    expect(other.stored.id).not.toBe(stored.id);
    expect((await soft.get(options, { userHandle: null })).response.userHandle).toBeUndefined();
  });

  it('a synced authenticator sets BE and BS and always reports a zero counter, which the library accepts', async () => {
    const soft = authenticator({ kind: 'synced' });
    const { stored, info } = await register(soft);
    expect(info).toMatchObject({ credentialDeviceType: 'multiDevice', credentialBackedUp: true });
    for (let i = 0; i < 2; i++) {
      expect((await assert(soft, stored)).authenticationInfo).toMatchObject({ newCounter: 0, credentialBackedUp: true });
    }
  });

  it('a credential id of 1100 bytes is carried through registration', async () => {
    const { stored } = await register(authenticator(), { credentialIdLength: 1100 });
    expect(isoBase64URL.toBuffer(stored.id)).toHaveLength(1100);
  });

  it('a 1 MB client data payload is well-formed, so only a size limit of the relying party can refuse it', async () => {
    const options = await registrationOptions();
    const response = await authenticator().create(options, { mutate: { clientData: padClientData() } });
    expect(response.response.clientDataJSON.length).toBeGreaterThan(1024 * 1024);
    await expect(verifyRegistration(options, response)).resolves.toMatchObject({ verified: true });
  });
});

describe('soft authenticator: forged registrations are refused by the library', () => {
  it('an origin of another site', () => refusedRegistration({ origin: 'https://evil.example' }, false, /origin/));
  it('an RP ID hash of another RP ID', () => refusedRegistration({ rpId: 'evil.example' }, false, /RP ID/i));
  it('a webauthn.get client data type', () => refusedRegistration({ type: 'webauthn.get' }, false, /type/));
  it('another challenge', () => refusedRegistration({ challenge: isoBase64URL.fromUTF8String('not the challenge') }, false, /challenge/));
  it('UP=0', () => refusedRegistration({ flags: { up: false } }, false, /User presence/));
  it('UV=0 when user verification is required', () => refusedRegistration({ flags: { uv: false } }, true, /User verification/));
  it('BS=1 with BE=0', () => refusedRegistration({ flags: { be: false, bs: true } }, false, /backed up/));
  it('a truncated attestation object', () => refusedRegistration({ mutate: { attestationObject: truncate(-40) } }));
  it('trailing bytes after the authenticator data', () => refusedRegistration({ mutate: { authenticatorData: appendBytes() } }, false, /Leftover bytes/));
  it('a COSE alg the options did not offer', () => refusedRegistration({ coseAlg: -65535 }, false, /alg/));
  it('a COSE key whose alg (RS256) does not fit its kty (EC2) passes the library, self attestation included (the relying party must refuse it)', async () => {
    const options = await registrationOptions();
    const response = await authenticator().create(options, { attestation: 'packed-self', coseAlg: -257 });
    await expect(verifyRegistration(options, response)).resolves.toMatchObject({ verified: true });
  });

  it('a credential the options exclude is refused by the soft authenticator itself, like a browser would', async () => {
    const soft = authenticator();
    const { stored } = await register(soft);
    const options = await registrationOptions('none', [{ id: stored.id }]);
    await expect(soft.create(options)).rejects.toThrow(/InvalidStateError/);
    await expect(soft.create(options, { ignoreExcludeCredentials: true })).resolves.toMatchObject({ type: 'public-key' });
  });

  it('trailing bytes after the whole attestation object are ignored by the library (the relying party must refuse them)', async () => {
    const options = await registrationOptions();
    const response = await authenticator().create(options, { mutate: { attestationObject: appendBytes() } });
    await expect(verifyRegistration(options, response)).resolves.toMatchObject({ verified: true });
  });
});

describe('soft authenticator: forged assertions are refused by the library', () => {
  const refused = async (knobs: AssertionKnobs, message?: RegExp, requireUserVerification = true) => {
    const soft = authenticator();
    const { stored } = await register(soft);
    const attempt = assert(soft, stored, knobs, requireUserVerification);
    await (message ? expect(attempt).rejects.toThrow(message) : expect(attempt).rejects.toThrow());
  };

  it('an origin of another site', () => refused({ origin: 'https://evil.example' }, /origin/));
  it('the http:// variant of the origin', () => refused({ origin: `http://${RP_ID}` }, /origin/));
  it('an RP ID hash of another RP ID', () => refused({ rpId: 'evil.example' }, /RP ID/i));
  it('a webauthn.create client data type', () => refused({ type: 'webauthn.create' }, /type/));
  it('another challenge', () => refused({ challenge: isoBase64URL.fromUTF8String('not the challenge') }, /challenge/));
  it('UP=0', () => refused({ flags: { up: false } }, /not present/, false));
  it('UV=0 when user verification is required', () => refused({ flags: { uv: false } }, /User verification/));
  it('BS=1 with BE=0', () => refused({ flags: { be: false, bs: true } }, /backed up/));
  it('truncated authenticator data', () => refused({ mutate: { authenticatorData: truncate(30) } }, /37 bytes/));
  it('trailing bytes after the authenticator data', () => refused({ mutate: { authenticatorData: appendBytes() } }, /Leftover bytes/));
  it('a cross-origin iframe with a top origin the relying party did not expect', () =>
    refused({ crossOrigin: true, topOrigin: 'https://evil.example' }, /top origin/));

  it('crossOrigin=true without a topOrigin passes the library (the relying party must refuse it)', async () => {
    const soft = authenticator();
    const { stored } = await register(soft);
    await expect(assert(soft, stored, { crossOrigin: true })).resolves.toMatchObject({ verified: true });
  });

  it("a signature by credential A reported under credential B's id fails against B's key", async () => {
    const soft = authenticator();
    const a = await register(soft);
    const b = await register(soft);
    const options = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: b.stored.id }] });
    const response = await soft.get(options, { credentialId: a.stored.id, reportedId: b.stored.id });
    expect(response.id).toBe(b.stored.id);
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential: b.stored,
    });
    expect(result.verified).toBe(false);
  });

  it('a counter at or below the stored one is refused; both zero is accepted', async () => {
    const soft = authenticator();
    const { stored } = await register(soft);
    await expect(assert(soft, { ...stored, counter: 10 }, { counter: 10 })).rejects.toThrow(/counter/);
    await expect(assert(soft, { ...stored, counter: 10 }, { counter: 5 })).rejects.toThrow(/counter/);
    await expect(assert(soft, { ...stored, counter: 0 }, { counter: 0 })).resolves.toMatchObject({ verified: true });
    soft.setCounter(stored.id, 41);
    await expect(assert(soft, { ...stored, counter: 41 })).resolves.toMatchObject({ authenticationInfo: { newCounter: 42 } });
  });

  it('a replayed response is byte-for-byte the earlier one and fails against a new challenge', async () => {
    const soft = authenticator();
    const { stored } = await register(soft);
    const options = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: stored.id }] });
    const original = await soft.get(options);
    expect(soft.replay()).toEqual(original);
    const fresh = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: stored.id }] });
    await expect(
      verifyAuthenticationResponse({
        response: soft.replay(),
        expectedChallenge: fresh.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        credential: stored,
      }),
    ).rejects.toThrow(/challenge/);
  });
});

/**
 * `direct` attestation without network: trust anchors come from SettingsService (per attestation
 * format, process-wide) or from locally supplied metadata statements through MetadataService.
 */
describe('attestation trust anchors', () => {
  const setPackedRoots = (certificates: string[]) => SettingsService.setRootCertificates({ identifier: 'packed', certificates });
  afterAll(() => setPackedRoots([]));

  async function registerPacked(signer: Awaited<ReturnType<typeof createAttestationSigner>>, aaguid = AAGUID) {
    const options = await registrationOptions('direct');
    return verifyRegistration(options, await authenticator({ aaguid, attestation: { packed: signer } }).create(options));
  }

  it('a chain under a configured root is accepted; one under an unconfigured self-signed root is refused, with or without that root in x5c; x5c repeating the anchor is refused too', async () => {
    const trusted = await createAttestationCa('Trusted Root');
    const rogue = await createAttestationCa('Rogue Root');
    setPackedRoots([trusted.pem]);
    await expect(registerPacked(await createAttestationSigner(trusted, { aaguid: AAGUID }))).resolves.toMatchObject({ verified: true });
    await expect(registerPacked(await createAttestationSigner(trusted, { includeCa: true }))).rejects.toThrow(/certificate path/);
    await expect(registerPacked(await createAttestationSigner(rogue))).rejects.toThrow(/trust anchor/);
    await expect(registerPacked(await createAttestationSigner(rogue, { includeCa: true }))).rejects.toThrow(/trust anchor/);
  });

  it('with no root configured for the format the library skips path validation and accepts any chain', async () => {
    setPackedRoots([]);
    const rogue = await createAttestationCa('Rogue Root');
    await expect(registerPacked(await createAttestationSigner(rogue, { includeCa: true }))).resolves.toMatchObject({ verified: true });
  });

  it('attestation certificates that break WebAuthn Level 3 §8.2.1 are refused', async () => {
    const ca = await createAttestationCa();
    setPackedRoots([ca.pem]);
    await expect(registerPacked(await createAttestationSigner(ca, { organizationalUnit: 'Other' }))).rejects.toThrow(/OU/);
    await expect(registerPacked(await createAttestationSigner(ca, { isCa: true }))).rejects.toThrow(/basic constraints/);
    await expect(registerPacked(await createAttestationSigner(ca, { aaguid: new Uint8Array(16).fill(9) }))).rejects.toThrow(/aaguid/i);
  });

  it('local metadata statements pin the roots per AAGUID; strict mode refuses an AAGUID without a statement', async () => {
    const ca = await createAttestationCa('Vendor Root');
    const statement = {
      aaguid: AAGUID_TEXT,
      description: 'Soft authenticator',
      attestationTypes: ['basic_full'],
      authenticationAlgorithms: ['secp256r1_ecdsa_sha256_raw'],
      attestationRootCertificates: [isoBase64URL.fromBuffer(new Uint8Array(ca.cert.rawData), 'base64')],
    } as unknown as MetadataStatement;
    // mdsServers: [] keeps the service from fetching the FIDO MDS blob; only these statements are known.
    await MetadataService.initialize({ mdsServers: [], statements: [statement], verificationMode: 'strict' });
    try {
      setPackedRoots([]);
      await expect(registerPacked(await createAttestationSigner(ca, { aaguid: AAGUID }))).resolves.toMatchObject({ verified: true });
      const rogue = await createAttestationCa('Rogue Root');
      await expect(registerPacked(await createAttestationSigner(rogue, { aaguid: AAGUID }))).rejects.toThrow(/trust anchor/);
      const unknown = new Uint8Array(16).fill(7);
      await expect(registerPacked(await createAttestationSigner(ca, { aaguid: unknown }), unknown)).rejects.toThrow(/No metadata statement/);
      // Attestation 'none' never consults metadata: a relying party wanting attested keys must refuse fmt 'none' itself.
      const options = await registrationOptions('direct');
      await expect(verifyRegistration(options, await authenticator({ aaguid: unknown }).create(options))).resolves.toMatchObject({ verified: true });
    } finally {
      await MetadataService.initialize({ mdsServers: [], statements: [], verificationMode: 'permissive' });
    }
  });

  it('packed self attestation carries no x5c and verifies whatever roots are configured', async () => {
    setPackedRoots([(await createAttestationCa()).pem]);
    const options = await registrationOptions('direct');
    const response = await authenticator({ attestation: 'packed-self' }).create(options);
    const attStmt = isoCBOR.decodeFirst<Map<string, Map<string, unknown>>>(isoBase64URL.toBuffer(response.response.attestationObject)).get('attStmt')!;
    expect(attStmt.has('x5c')).toBe(false);
    await expect(verifyRegistration(options, response)).resolves.toMatchObject({ verified: true, registrationInfo: { fmt: 'packed' } });
  });
});
