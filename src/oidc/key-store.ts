import crypto from 'node:crypto';
import type { JWK } from 'oidc-provider';
import { randomToken, type SecretBox } from '../lib/crypto.js';
import type { PublishedKey } from '../lib/published-key.js';
import type { Db } from '../store/db.js';
import { createSigningKeyRepository, type SigningKeyRepository } from '../store/repositories/signing-key.repository.js';

export interface KeyMaterial {
  /** Private JWKs, newest first: the provider signs with the first. */
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  version: string;
}

function newRsaKey(): { kid: string; privateJwk: JWK; publicJwk: JWK } {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomToken(12);
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } as JWK;
  const { d, p, q, dp, dq, qi, ...publicJwk } = privateJwk as Record<string, unknown>;
  void d;
  void p;
  void q;
  void dp;
  void dq;
  void qi;
  return { kid, privateJwk, publicJwk };
}

/** Signing and cookie keys live in PostgreSQL (private parts sealed) so every node uses the same ones. */
export function createKeyStore(db: Db, box: SecretBox) {
  const repo = createSigningKeyRepository(db);

  async function insertSigningKey(keys: Pick<SigningKeyRepository, 'insert'>): Promise<string> {
    const k = newRsaKey();
    await keys.insert({
      kid: k.kid,
      use: 'sig',
      alg: 'RS256',
      publicJwk: k.publicJwk as Record<string, unknown>,
      privateSealed: box.seal(JSON.stringify(k.privateJwk)),
    });
    return k.kid;
  }

  return {
    /** First start: create the keys once, even when several nodes boot together. */
    async ensure(): Promise<void> {
      await repo.exclusive(async (r) => {
        if ((await r.listLive('sig')).length === 0) await insertSigningKey(r);
        if ((await r.listLive('cookie')).length === 0) {
          await r.insert({ kid: randomToken(12), use: 'cookie', alg: 'HS256', publicJwk: null, privateSealed: box.seal(randomToken(32)) });
        }
      });
    },

    async load(): Promise<KeyMaterial> {
      const [sig, cookie, version] = await Promise.all([repo.listLive('sig'), repo.listLive('cookie'), repo.version()]);
      return {
        jwks: { keys: sig.map((k) => JSON.parse(box.open(k.privateSealed)) as JWK) },
        cookieKeys: cookie.map((k) => box.open(k.privateSealed)),
        version,
      };
    },

    version: () => repo.version(),

    /** The published signing keys without their private parts, newest (the one that signs) first. */
    async describe(): Promise<PublishedKey[]> {
      return (await repo.listLive('sig')).map((k) => ({ id: k.kid, alg: k.alg, createdAt: k.createdAt, retiresAt: k.expiresAt }));
    },

    /**
     * Adds a key that signs from now on. The previous keys stay published until `retireAfterSec`
     * has passed, long enough for every token they signed to expire.
     */
    async rotate(retireAfterSec: number): Promise<string> {
      return repo.exclusive(async (keys) => {
        const kid = await insertSigningKey(keys);
        await keys.retireAllExcept('sig', kid, new Date(Date.now() + retireAfterSec * 1000));
        return kid;
      });
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
