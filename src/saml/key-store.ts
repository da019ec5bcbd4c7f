// @peculiar/x509 needs the reflect polyfill loaded before it.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { randomToken, type SecretBox } from '../lib/crypto.js';
import type { PublishedKey } from '../lib/published-key.js';
import type { Db } from '../store/db.js';
import { createSamlKeyRepository, type SamlKeyRepository } from '../store/repositories/saml-key.repository.js';

/** Service providers pin the certificate they read from the metadata, so it outlives any routine rotation. */
const CERTIFICATE_YEARS = 10;
const SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

export interface SamlKeyMaterial {
  /** The newest key: it signs responses and logout messages. */
  signing: { privateKey: string; certificate: string };
  /** Every published certificate (PEM), newest first: the signing one and those still in their overlap. */
  certificates: string[];
  /** Changes whenever a key is added or retired, so nodes notice a rotation cheaply. */
  version: string;
}

function toPem(der: ArrayBuffer, label: string): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** An RSA key with a self-signed certificate naming the IdP's host: SAML trusts the certificate itself, not a chain. */
async function newKeyAndCertificate(commonName: string): Promise<{ privateKey: string; certificate: string }> {
  const crypto = webcrypto as unknown as Crypto;
  const keys = await crypto.subtle.generateKey(SIGNING, true, ['sign', 'verify']);
  const notBefore = new Date();
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERTIFICATE_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [commonName] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    crypto,
  );
  return { privateKey: toPem(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), certificate: cert.toString('pem') };
}

/** The SAML signing keys live in PostgreSQL (private parts sealed) so every node signs with the same one. */
export function createSamlKeyStore(db: Db, box: SecretBox, commonName: string) {
  const repo = createSamlKeyRepository(db);

  async function insertKey(keys: Pick<SamlKeyRepository, 'insert'>): Promise<string> {
    const { privateKey, certificate } = await newKeyAndCertificate(commonName);
    const id = randomToken(12);
    await keys.insert({ id, certificate, privateSealed: box.seal(privateKey) });
    return id;
  }

  return {
    /** First start: create the key once, even when several nodes boot together. */
    async ensure(): Promise<void> {
      await repo.exclusive(async (keys) => {
        if ((await keys.listLive()).length === 0) await insertKey(keys);
      });
    },

    async load(): Promise<SamlKeyMaterial> {
      const live = await repo.listLive();
      const newest = live[0];
      if (!newest) throw new Error('no SAML signing key: ensure() was not run');
      return {
        signing: { privateKey: box.open(newest.privateSealed), certificate: newest.certificate },
        certificates: live.map((k) => k.certificate),
        version: live.map((k) => k.id).join(','),
      };
    },

    /** The published certificates (public by nature), newest (the one that signs) first. */
    async describe(): Promise<PublishedKey[]> {
      return (await repo.listLive()).map((k) => ({ id: k.id, alg: 'RS256', createdAt: k.createdAt, retiresAt: k.expiresAt, certificate: k.certificate }));
    },

    /**
     * Adds a key that signs from now on. The previous certificates stay in the metadata for
     * `retireAfterSec`, so service providers that refresh it in that time accept both.
     */
    rotate(retireAfterSec: number): Promise<string> {
      return repo.exclusive(async (keys) => {
        const id = await insertKey(keys);
        await keys.retireAllExcept(id, new Date(Date.now() + retireAfterSec * 1000));
        return id;
      });
    },
  };
}

export type SamlKeyStore = ReturnType<typeof createSamlKeyStore>;
