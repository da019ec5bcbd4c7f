/** A minimal software authenticator for the functional passkey tests: ES256, attestation none, user present and verified, discoverable. */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export class SoftAuthenticator {
  private creds: { id: Buffer; key: KeyObject; userHandle: string; rpId: string; counter: number }[] = [];
  constructor(private readonly opts: { backupEligible?: boolean } = {}) {}
  get credentialIds() {
    return this.creds.map((c) => c.id.toString('base64url'));
  }
  private flags(extra: number) {
    return 0x01 | 0x04 | (this.opts.backupEligible ? 0x08 | 0x10 : 0) | extra;
  }
  async create(options: any, origin: string) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(32);
    const rpId = options.rp.id;
    this.creds.push({ id, key: privateKey, userHandle: options.user.id, rpId, counter: 0 });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.flags(0x40)]),
      u32(0),
      Buffer.alloc(16),
      Buffer.from([0, id.length]),
      id,
      Buffer.from(cose),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as any,
    );
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    return {
      id: id.toString('base64url'),
      rawId: id.toString('base64url'),
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
    };
  }
  async get(options: any, origin: string) {
    const allowed: string[] = (options.allowCredentials ?? []).map((c: any) => c.id);
    // A credential the options do not list still answers: that is how a wrong account's key is tried.
    const cred = this.creds.find((c) => !allowed.length || allowed.includes(c.id.toString('base64url'))) ?? this.creds[0]!;
    cred.counter += this.opts.backupEligible ? 0 : 1;
    const authData = Buffer.concat([sha256(options.rpId), Buffer.from([this.flags(0)]), u32(cred.counter)]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), cred.key);
    return {
      id: cred.id.toString('base64url'),
      rawId: cred.id.toString('base64url'),
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: cred.userHandle,
      },
    };
  }
}
