import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyPayload } from '../../src/lib/webhook-signature.js';

export interface Received {
  body: string;
  json: any;
  event: string | undefined;
  delivery: string | undefined;
  signature: string | undefined;
  /** Whether the signature verified with the receiver's secret at the receiver's time. */
  verified: boolean;
}

/**
 * A webhook receiver as a platform would run it: a real HTTP server on 127.0.0.1 that verifies each
 * request's signature with `verifyPayload` and answers with the next status of `statuses` (then 200).
 */
export async function startReceiver() {
  const received: Received[] = [];
  const waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  let secret = '';
  let statuses: number[] = [];
  let hang = false;
  let now = Date.now;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = req.headers['x-idp-signature'] as string | undefined;
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const r: Received = {
        body,
        json,
        event: req.headers['x-idp-event'] as string | undefined,
        delivery: req.headers['x-idp-delivery'] as string | undefined,
        signature,
        verified: verifyPayload(secret, body, signature, now()),
      };
      received.push(r);
      for (const w of [...waiters]) {
        if (w.match(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
      if (hang) return;
      res.statusCode = r.verified ? (statuses.shift() ?? 200) : 401;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    setSecret: (s: string) => {
      secret = s;
    },
    /** The next answers' statuses, in order; 200 after them. */
    answer: (...s: number[]) => {
      statuses = s;
    },
    /** The receiver's time (a test that runs the sender at another time verifies at that time). */
    setClock: (clock: () => number) => {
      now = clock;
    },
    /** Never answer (a receiver that times out). */
    hang: (on: boolean) => {
      hang = on;
    },
    /** The first request (already received or to come) that `match` accepts. */
    next(match: (r: Received) => boolean, timeoutMs = 10_000): Promise<Received> {
      const seen = received.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching webhook arrived')), timeoutMs);
        waiters.push({
          match,
          resolve: (r) => {
            clearTimeout(t);
            resolve(r);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
