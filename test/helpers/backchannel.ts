import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** One back-channel logout call as the relying party received it. */
export interface LogoutDelivery {
  path: string;
  logoutToken: string;
}

/**
 * A relying party's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0): records
 * every `logout_token` POSTed to it, per path, and answers with the status set for that path (200
 * unless told otherwise, so a test can play an RP that fails).
 */
export async function startLogoutReceiver() {
  const received: LogoutDelivery[] = [];
  const statusFor = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, logoutToken: new URLSearchParams(body).get('logout_token') ?? '' });
      res.writeHead(statusFor.get(path) ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Makes the endpoint at `path` answer `status`. */
    answer(path: string, status: number) {
      statusFor.set(path, status);
    },
    /** Waits (up to about 2.5 s) until `count` deliveries arrived. */
    async waitFor(count: number) {
      for (let i = 0; i < 50 && received.length < count; i++) await new Promise((r) => setTimeout(r, 50));
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Verifies a logout token's signature against the IdP's published keys and its audience. */
export const verifyLogoutToken = (issuer: string, clientId: string, logoutToken: string) =>
  jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: clientId, typ: 'logout+jwt' });
