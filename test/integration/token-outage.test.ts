/**
 * A token request that answers 503 because Redis went away must leave nothing behind in
 * PostgreSQL: the client retries once Redis is back, and that retry must succeed instead of
 * looking like a replayed refresh token. The test runs its own redis-server (append-only file in a
 * temporary directory, so entries survive the restart as they would in production).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { startRedis, waitFor, type OwnRedis } from '../helpers/processes.js';
import { REDIRECT_URI, discover, oc, registerClient } from '../helpers/rp.js';

let dir: string;
let redis: OwnRedis;
let idp: TestIdp;
let client: { client_id: string; client_secret: string };
let config: oc.Configuration;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-token-outage-'));
  redis = await startRedis({ dir });
  idp = await startTestIdp('token-outage', 'postgres+redis', { redisUrl: redis.url });
  client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
}, 60_000);
afterAll(async () => {
  await idp.stop();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const basic = () => `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

async function tokenRequest(params: Record<string, string>) {
  const res = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const refreshRows = async () =>
  (
    await sql<{ id: string; consumed: boolean }>`select id, consumed_at is not null as consumed
  from oidc_payloads where model = 'RefreshToken' order by id`.execute(idp.container.db)
  ).rows;

async function outage(during: () => Promise<void>): Promise<void> {
  await redis.kill();
  try {
    await during();
  } finally {
    redis = await startRedis({ port: redis.port, dir });
    await waitFor('the IdP to see Redis again', async () => (await fetch(`${idp.url}/readyz`)).status === 200, { timeoutMs: 15_000 });
  }
}

/** Up to the redirect back to the relying party: the code (not redeemed yet) and how to redeem it. */
async function codeFor(username: string, scope: string) {
  const flow = await beginAuth(config, { scope });
  const login = await flow.post('login', { username, password: PASSWORD });
  expect(login.status).toBe(200);
  const callback = await flow.browser.follow(new URL(login.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
  return { flow, callback };
}

test('a refresh answered 503 while Redis is down changes nothing: after recovery the same refresh token works', async () => {
  const user = await newUser(idp.url, 'outage');
  const { flow, callback } = await codeFor(user.username, 'openid offline_access');
  const { tokens } = await flow.complete(callback.href);
  const before = await refreshRows();
  expect(before.filter((r) => !r.consumed).length).toBeGreaterThanOrEqual(1);

  await outage(async () => {
    // The client retries a few times during the outage: each attempt is a 503, none is a verdict.
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      expect(res).toEqual({ status: 503, body: { error: 'temporarily_unavailable', error_description: expect.any(String) } });
    }
    // Nothing durable changed: the refresh token is not consumed and no successor was stored.
    expect(await refreshRows()).toEqual(before);
  });

  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  expect((await oc.fetchUserInfo(config, refreshed.access_token, user.id)).sub).toBe(user.id);
  const again = await oc.refreshTokenGrant(config, refreshed.refresh_token!);
  expect((await oc.fetchUserInfo(config, again.access_token, user.id)).sub).toBe(user.id);
}, 60_000);

test('a code exchange tried while Redis is down (where the code lives) is redeemed after recovery', async () => {
  const user = await newUser(idp.url, 'outage-code');
  const { flow, callback } = await codeFor(user.username, 'openid offline_access');
  const code = callback.searchParams.get('code')!;
  const before = await refreshRows();

  await outage(async () => {
    const res = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: 'x'.repeat(43) });
    expect(res).toEqual({ status: 503, body: { error: 'temporarily_unavailable', error_description: expect.any(String) } });
    expect(await refreshRows()).toEqual(before);
  });

  const { tokens, claims } = await flow.complete(callback.href);
  expect(claims.sub).toBe(user.id);
  expect((await oc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
}, 60_000);
