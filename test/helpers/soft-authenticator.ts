import crypto, { type KeyObject } from 'node:crypto';
import { isoBase64URL, isoCBOR, isoUint8Array } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AttestationSigner } from './attestation-certs.js';

/**
 * A software WebAuthn authenticator and client for tests: it answers creation and request options
 * JSON the way a browser plus authenticator would (WebAuthn Level 3 §6.1 authenticator data,
 * §6.5 attestation, §5.8.1 client data), and every field can be forged to exercise a relying
 * party's checks.
 */

/** Bytes over a plain ArrayBuffer, as the server library's helpers take and give them. */
export type Bytes = Uint8Array<ArrayBuffer>;

export type SoftAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

/** COSE algorithm identifiers (RFC 9053, RFC 8812). */
export const COSE_ALG: Record<SoftAlgorithm, number> = { ES256: -7, RS256: -257, EdDSA: -8 };

/** Authenticator data flags (WebAuthn Level 3 §6.1). */
const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface SoftFlags {
  up?: boolean;
  uv?: boolean;
  be?: boolean;
  bs?: boolean;
}

/** Raw-byte hooks, applied in this order: client data (before hashing), authenticator data (before signing), then the encoded result. */
export interface ByteMutations {
  clientData?: (clientData: Record<string, unknown>) => Record<string, unknown>;
  authenticatorData?: (bytes: Bytes) => Bytes;
  /** Registration only: the whole CBOR attestation object after it is built. */
  attestationObject?: (bytes: Bytes) => Bytes;
}

/** Knobs shared by registration and assertion; each overrides the authenticator's default for one call. */
export interface CeremonyKnobs {
  origin?: string;
  /** The RP ID hashed into the authenticator data; defaults to the options' RP ID. */
  rpId?: string;
  /** clientDataJSON.type; defaults to 'webauthn.create' / 'webauthn.get'. */
  type?: string;
  /** clientDataJSON.challenge; defaults to the options' challenge. */
  challenge?: string;
  crossOrigin?: boolean;
  topOrigin?: string;
  flags?: SoftFlags;
  /** The signature counter to report on this call; the stored counter is left as it is. */
  counter?: number;
  mutate?: ByteMutations;
}

export type AttestationChoice = 'none' | 'packed-self' | { packed: AttestationSigner };

export interface RegistrationKnobs extends CeremonyKnobs {
  algorithm?: SoftAlgorithm;
  attestation?: AttestationChoice;
  aaguid?: Bytes;
  credentialIdLength?: number;
  /** Reuses these credential id bytes (e.g. another user's credential id) instead of random ones. */
  credentialId?: Bytes;
  /** Defaults to true unless the options discourage a resident key. */
  discoverable?: boolean;
  /** Replaces the alg (label 3) of the COSE public key while the key itself is unchanged. */
  coseAlg?: number;
  /** A browser refuses a credential listed in excludeCredentials; set this to answer anyway. */
  ignoreExcludeCredentials?: boolean;
  transports?: string[];
}

export interface AssertionKnobs extends CeremonyKnobs {
  /** Which held credential signs; defaults to the first one the options allow. */
  credentialId?: string;
  /** The credential id reported in the response; defaults to the signer's. */
  reportedId?: string;
  /** The userHandle reported: undefined = the credential's own (if discoverable), null = none. */
  userHandle?: string | null;
}

export interface SoftCredential {
  /** base64url credential id, as in the JSON responses. */
  id: string;
  rpId: string;
  algorithm: SoftAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The COSE_Key as stored by the relying party. */
  cosePublicKey: Bytes;
  /** The user.id of the creation options (base64url) when the credential is discoverable. */
  userHandle?: string;
  discoverable: boolean;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** The origin the client reports in clientDataJSON. */
  origin: string;
  aaguid?: Bytes;
  algorithm?: SoftAlgorithm;
  attestation?: AttestationChoice;
  /**
   * 'device-bound' (default): BE=0, BS=0, counter increments per assertion.
   * 'synced': BE=1, BS=1 and the counter is always zero, as for passkey providers.
   */
  kind?: 'device-bound' | 'synced';
  /** Default flags for every response; per-call flags override them. */
  flags?: SoftFlags;
  attachment?: 'platform' | 'cross-platform';
}

type Response = RegistrationResponseJSON | AuthenticationResponseJSON;

const sha256 = (data: Bytes) => new Uint8Array(crypto.createHash('sha256').update(data).digest());
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

function generateKeyPair(algorithm: SoftAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  if (algorithm === 'ES256') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (algorithm === 'RS256') return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return crypto.generateKeyPairSync('ed25519');
}

/** RFC 9052 §7 COSE_Key for the credential public key, keys as integer labels. */
function coseKey(publicKey: KeyObject, algorithm: SoftAlgorithm, alg = COSE_ALG[algorithm]): Bytes {
  const jwk = publicKey.export({ format: 'jwk' });
  const b = (v: string | undefined) => isoBase64URL.toBuffer(v!);
  const entries: [number, number | Bytes][] =
    algorithm === 'ES256'
      ? [
          [1, 2],
          [3, alg],
          [-1, 1],
          [-2, b(jwk.x)],
          [-3, b(jwk.y)],
        ]
      : algorithm === 'RS256'
        ? [
            [1, 3],
            [3, alg],
            [-1, b(jwk.n)],
            [-2, b(jwk.e)],
          ]
        : [
            [1, 1],
            [3, alg],
            [-1, 6],
            [-2, b(jwk.x)],
          ];
  return isoCBOR.encode(new Map<number, number | Bytes>(entries));
}

function sign(algorithm: SoftAlgorithm, privateKey: KeyObject, data: Bytes): Bytes {
  // ECDSA signatures in WebAuthn are DER (WebAuthn Level 3 §6.5.5); RS256 is PKCS#1 v1.5; EdDSA takes no digest.
  const signature = algorithm === 'EdDSA' ? crypto.sign(null, data, privateKey) : crypto.sign('sha256', data, privateKey);
  return new Uint8Array(signature);
}

function flagsByte(flags: Required<SoftFlags>, attested: boolean): number {
  return (flags.up ? FLAG.UP : 0) | (flags.uv ? FLAG.UV : 0) | (flags.be ? FLAG.BE : 0) | (flags.bs ? FLAG.BS : 0) | (attested ? FLAG.AT : 0);
}

function uint32(n: number): Bytes {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n >>> 0, false);
  return bytes;
}

function uint16(n: number): Bytes {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, n, false);
  return bytes;
}

/** A byte mutation that keeps only the first `length` bytes (negative: drops that many from the end). */
export const truncate = (length: number) => (bytes: Bytes) => bytes.slice(0, length);

/** A byte mutation that appends `count` bytes after the well-formed data. */
export const appendBytes =
  (count = 8, value = 0) =>
  (bytes: Bytes) =>
    isoUint8Array.concat([bytes, new Uint8Array(count).fill(value)]);

/** A client data mutation that pads clientDataJSON with an extra member to about `bytes` bytes (a ~1 MB payload by default). */
export const padClientData =
  (bytes = 1024 * 1024) =>
  (clientData: Record<string, unknown>) => ({ ...clientData, padding: 'A'.repeat(bytes) });

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  /** Every response produced, oldest first, for replays. */
  readonly history: Response[] = [];

  constructor(readonly options: SoftAuthenticatorOptions) {}

  get aaguid(): Bytes {
    return this.options.aaguid ?? new Uint8Array(16);
  }

  credential(id: string): SoftCredential {
    const found = this.credentials.find((c) => c.id === id);
    if (!found) throw new Error(`soft authenticator holds no credential ${id}`);
    return found;
  }

  /** Sets the stored signature counter, as if the credential had been used elsewhere. */
  setCounter(id: string, counter: number): void {
    this.credential(id).counter = counter;
  }

  /** An earlier response, verbatim (a deep copy): the last one by default, or `history[index]`. */
  replay<T extends Response = Response>(index = this.history.length - 1): T {
    const earlier = this.history[index];
    if (!earlier) throw new Error('soft authenticator has produced no such response');
    return structuredClone(earlier) as T;
  }

  private flags(call: SoftFlags | undefined): Required<SoftFlags> {
    const synced = this.options.kind === 'synced';
    return { up: true, uv: true, be: synced, bs: synced, ...this.options.flags, ...call };
  }

  private clientData(type: string, challenge: string, knobs: CeremonyKnobs): Bytes {
    // Member order follows WebAuthn Level 3 §5.8.1.1 (type, challenge, origin, crossOrigin, topOrigin).
    let clientData: Record<string, unknown> = {
      type: knobs.type ?? type,
      challenge: knobs.challenge ?? challenge,
      origin: knobs.origin ?? this.options.origin,
      crossOrigin: knobs.crossOrigin ?? false,
      ...(knobs.topOrigin ? { topOrigin: knobs.topOrigin } : {}),
    };
    if (knobs.mutate?.clientData) clientData = knobs.mutate.clientData(clientData);
    return utf8(JSON.stringify(clientData));
  }

  private defaultRpId(rpId: string | undefined): string {
    return rpId ?? new URL(this.options.origin).hostname;
  }

  /** navigator.credentials.create(): a new credential for the options, kept for later assertions. */
  async create(options: PublicKeyCredentialCreationOptionsJSON, knobs: RegistrationKnobs = {}): Promise<RegistrationResponseJSON> {
    const rpId = this.defaultRpId(options.rp.id);
    const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id));
    if (!knobs.ignoreExcludeCredentials && this.credentials.some((c) => excluded.has(c.id) && c.rpId === rpId)) {
      throw new Error('InvalidStateError: the authenticator already holds an excluded credential');
    }

    const algorithm = knobs.algorithm ?? this.options.algorithm ?? 'ES256';
    const { privateKey, publicKey } = generateKeyPair(algorithm);
    const idBytes = knobs.credentialId ?? new Uint8Array(crypto.randomBytes(knobs.credentialIdLength ?? 16));
    const id = isoBase64URL.fromBuffer(idBytes);
    const discoverable = knobs.discoverable ?? options.authenticatorSelection?.residentKey !== 'discouraged';
    const cosePublicKey = coseKey(publicKey, algorithm);
    const credential: SoftCredential = {
      id,
      rpId,
      algorithm,
      privateKey,
      publicKey,
      cosePublicKey,
      userHandle: discoverable ? options.user.id : undefined,
      discoverable,
      counter: 0,
    };

    const clientDataJSON = this.clientData('webauthn.create', options.challenge, knobs);
    const presentedKey = knobs.coseAlg === undefined ? cosePublicKey : coseKey(publicKey, algorithm, knobs.coseAlg);
    let authData = isoUint8Array.concat([
      sha256(utf8(knobs.rpId ?? rpId)),
      Uint8Array.of(flagsByte(this.flags(knobs.flags), true)),
      uint32(knobs.counter ?? 0),
      knobs.aaguid ?? this.aaguid,
      uint16(idBytes.length),
      idBytes,
      presentedKey,
    ]);
    if (knobs.mutate?.authenticatorData) authData = knobs.mutate.authenticatorData(authData);

    const signed = isoUint8Array.concat([authData, sha256(clientDataJSON)]);
    const attestation = knobs.attestation ?? this.options.attestation ?? 'none';
    const attStmt = new Map<string, number | Bytes | Bytes[]>();
    if (attestation === 'packed-self') {
      attStmt.set('alg', COSE_ALG[algorithm]).set('sig', sign(algorithm, privateKey, signed));
    } else if (attestation !== 'none') {
      attStmt
        .set('alg', COSE_ALG.ES256)
        .set('sig', sign('ES256', attestation.packed.privateKey, signed))
        .set('x5c', attestation.packed.x5c);
    }
    const fmt = attestation === 'none' ? 'none' : 'packed';
    let attestationObject = isoCBOR.encode(
      new Map<string, string | Bytes | Map<string, number | Bytes | Bytes[]>>([
        ['fmt', fmt],
        ['attStmt', attStmt],
        ['authData', authData],
      ]),
    );
    if (knobs.mutate?.attestationObject) attestationObject = knobs.mutate.attestationObject(attestationObject);

    this.credentials.push(credential);
    const response: RegistrationResponseJSON = {
      id,
      rawId: id,
      type: 'public-key',
      authenticatorAttachment: this.options.attachment ?? 'cross-platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        transports: knobs.transports ?? ['usb'],
        publicKeyAlgorithm: COSE_ALG[algorithm],
        publicKey: isoBase64URL.fromBuffer(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))),
      },
    };
    this.history.push(response);
    return structuredClone(response);
  }

  private pick(options: PublicKeyCredentialRequestOptionsJSON, rpId: string, wanted: string | undefined): SoftCredential {
    if (wanted) return this.credential(wanted);
    const allowed = new Set((options.allowCredentials ?? []).map((c) => c.id));
    const found = this.credentials.find((c) => c.rpId === rpId && (allowed.size > 0 ? allowed.has(c.id) : c.discoverable));
    if (!found) throw new Error('NotAllowedError: the soft authenticator holds no credential for these options');
    return found;
  }

  /** navigator.credentials.get(): an assertion by one of the held credentials. */
  async get(options: PublicKeyCredentialRequestOptionsJSON, knobs: AssertionKnobs = {}): Promise<AuthenticationResponseJSON> {
    const rpId = this.defaultRpId(options.rpId);
    const credential = this.pick(options, rpId, knobs.credentialId);
    // A synced passkey reports zero (WebAuthn Level 3 §6.1.1); a device-bound one increments per use.
    const counter = knobs.counter ?? (this.options.kind === 'synced' ? 0 : ++credential.counter);

    const clientDataJSON = this.clientData('webauthn.get', options.challenge, knobs);
    let authData = isoUint8Array.concat([sha256(utf8(knobs.rpId ?? rpId)), Uint8Array.of(flagsByte(this.flags(knobs.flags), false)), uint32(counter)]);
    if (knobs.mutate?.authenticatorData) authData = knobs.mutate.authenticatorData(authData);
    const signature = sign(credential.algorithm, credential.privateKey, isoUint8Array.concat([authData, sha256(clientDataJSON)]));

    const userHandle = knobs.userHandle === undefined ? credential.userHandle : (knobs.userHandle ?? undefined);
    const id = knobs.reportedId ?? credential.id;
    const response: AuthenticationResponseJSON = {
      id,
      rawId: id,
      type: 'public-key',
      authenticatorAttachment: this.options.attachment ?? 'cross-platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(signature),
        ...(userHandle ? { userHandle } : {}),
      },
    };
    this.history.push(response);
    return structuredClone(response);
  }
}
