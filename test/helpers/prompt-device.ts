import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyPayload } from '../../src/lib/webhook-signature.js';

/** A device's ES256 key pair, as a browser's WebCrypto or an organisation's app would hold it. */
export function deviceKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const sign = (text: string) => crypto.sign('sha256', Buffer.from(text), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return {
    jwk: { kty, crv, x, y } as Record<string, string>,
    sign,
    answer: (id: string, decision: 'approve' | 'deny', number?: number) => ({
      decision,
      ...(number === undefined ? {} : { number }),
      signature: sign(`idp-prompt-answer-v1\n${id}\n${decision}\n${number ?? ''}`),
    }),
    proof: (nonce: string) => sign(`idp-prompt-register-v1\n${nonce}`),
  };
}

export interface PromptMessage {
  prompt_id: string;
  device_id: string;
  app: string;
  location: string;
  choices: number[];
  callback_url: string;
  expires_at: string;
}

/** An HTTP receiver on 127.0.0.1 that queues what it is sent; `next()` waits for the next message. */
async function receiver<T>(read: (req: http.IncomingMessage, body: Buffer) => T | undefined) {
  const queue: T[] = [];
  const waiting: ((m: T) => void)[] = [];
  const refused: { headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const message = read(req, Buffer.concat(chunks));
      if (message === undefined) {
        refused.push({ headers: req.headers });
        res.writeHead(400).end();
        return;
      }
      res.writeHead(201).end();
      const w = waiting.shift();
      if (w) w(message);
      else queue.push(message);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused,
    pending: () => queue.length,
    next: (timeoutMs = 5000) =>
      new Promise<T>((resolve, reject) => {
        const queued = queue.shift();
        if (queued !== undefined) return resolve(queued);
        const t = setTimeout(() => reject(new Error('no message arrived')), timeoutMs);
        waiting.push((m) => {
          clearTimeout(t);
          resolve(m);
        });
      }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A push service (RFC 8030) for one browser's subscription: it keeps the subscription's private
 * key and auth secret, so it decrypts what the IdP encrypted for the browser (RFC 8291, aes128gcm)
 * and checks that the request carries VAPID authorisation (RFC 8292).
 */
export async function pushService() {
  const ecdh = crypto.createECDH('prime256v1');
  const uaPublic = ecdh.generateKeys();
  const authSecret = crypto.randomBytes(16);
  const decrypt = (body: Buffer): Buffer => {
    const salt = body.subarray(0, 16);
    const idLen = body.readUInt8(20);
    const asPublic = body.subarray(21, 21 + idLen);
    const ciphertext = body.subarray(21 + idLen);
    const shared = ecdh.computeSecret(asPublic);
    const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, authSecret, Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]), 32));
    const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
    return padded.subarray(0, padded.lastIndexOf(2));
  };
  const server = await receiver<PromptMessage & { vapid: string }>((req, body) => {
    const auth = req.headers.authorization ?? '';
    if (!/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/.test(auth) || req.headers['content-encoding'] !== 'aes128gcm') return undefined;
    return { ...(JSON.parse(decrypt(body).toString('utf8')) as PromptMessage), vapid: auth };
  });
  return {
    ...server,
    subscription: () => ({
      endpoint: `${server.url}/push/${crypto.randomUUID()}`,
      keys: { p256dh: uaPublic.toString('base64url'), auth: authSecret.toString('base64url') },
    }),
  };
}

/** An organisation's app: it accepts only requests signed with its secret. */
export async function appWebhook(secret: string) {
  return receiver<PromptMessage>((req, body) =>
    verifyPayload(secret, body.toString('utf8'), req.headers['x-idp-signature'] as string | undefined, Date.now())
      ? (JSON.parse(body.toString('utf8')) as PromptMessage)
      : undefined,
  );
}
