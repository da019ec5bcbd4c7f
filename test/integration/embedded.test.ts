/**
 * Embedded development mode: no PostgreSQL server and no Redis. PGlite holds
 * everything, the short-lived state (interactions, codes, rate-limit windows) included, and a data
 * directory survives a restart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { REDIRECT_URI, authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';

describe('embedded PGlite, no Redis', () => {
  let idp: TestIdp;
  let client: { client_id: string; client_secret: string };
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('embedded', 'pglite');
    client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'emb-1', username: 'emma', email: 'emma@example.test', password: PASSWORD });
  }, 60_000);
  afterAll(async () => {
    await idp.stop();
  });

  const count = async (model: string) =>
    Number((await sql<{ n: number }>`select count(*)::int as n from oidc_payloads where model = ${model}`.execute(idp.container.db)).rows[0]!.n);

  test('runs without Redis: readiness checks PostgreSQL (PGlite) only', async () => {
    expect(idp.container.redis).toBeUndefined();
    const version = (await sql<{ v: string }>`select version() as v`.execute(idp.container.db)).rows[0]!.v;
    expect(version).toMatch(/PostgreSQL/);
    const res = await fetch(`${idp.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { postgres: 'ok' } });
  });

  test('the full code + PKCE login works, and its short-lived state lives in PGlite', async () => {
    const codesBefore = await count('AuthorizationCode');
    const login = passwordSteps('emma', PASSWORD);
    let interactionRow: unknown;
    const { tokens } = await authorize(config, {
      onStep: async (step) => {
        // While the login is under way, its interaction is a row in PGlite (under a keyed hash of its uid).
        interactionRow = (await sql`select model, id from oidc_payloads where model = 'Interaction' and id <> ${step.uid}`.execute(idp.container.db)).rows[0];
        return login(step);
      },
    });
    expect(interactionRow).toEqual({ model: 'Interaction', id: expect.any(String) });
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: client.client_id });
    expect(payload.amr).toEqual(['pwd']);
    const info = await oc.fetchUserInfo(config, tokens.access_token, payload.sub!);
    expect(info.email).toBe('emma@example.test');

    expect(await count('AuthorizationCode')).toBe(codesBefore + 1);
    expect(await count('AccessToken')).toBeGreaterThanOrEqual(1);
    expect(await count('Session')).toBeGreaterThanOrEqual(1);
    // The code was consumed exactly once, in the database.
    const code = await sql<{
      consumed: boolean;
    }>`select consumed_at is not null as consumed from oidc_payloads where model = 'AuthorizationCode' order by expires_at desc limit 1`.execute(
      idp.container.db,
    );
    expect(code.rows[0]!.consumed).toBe(true);
    // Rate-limit windows too.
    const windows = await sql<{ n: number }>`select count(*)::int as n from ephemeral_entries where key like 'rl:login-ip:%'`.execute(idp.container.db);
    expect(windows.rows[0]!.n).toBeGreaterThanOrEqual(1);

    const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('one code redeemed by 20 concurrent requests → exactly one 200', async () => {
    const browser = new Browser();
    const verifier = oc.randomPKCECodeVerifier();
    const authUrl = oc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 's',
      code_challenge: await oc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const start = await browser.fetch(authUrl);
    const interactionUrl = new URL(start.headers.get('location')!, authUrl);
    const ok = await browser.json(`${interactionUrl.href}/login`, { username: 'emma', password: PASSWORD });
    const callback = await browser.follow(new URL(ok.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const auth = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    const statuses = await Promise.all(
      Array.from(
        { length: 20 },
        async () =>
          (
            await fetch(`${idp.url}/token`, {
              method: 'POST',
              headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
              body,
            })
          ).status,
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 400)).toBe(true);
  });

  test('wrong credentials are refused the same way as with PostgreSQL + Redis', async () => {
    const browser = new Browser();
    const authUrl = oc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const start = await browser.fetch(authUrl);
    const interactionUrl = new URL(start.headers.get('location')!, authUrl);
    const wrong = await browser.json(`${interactionUrl.href}/login`, { username: 'emma', password: 'nope' });
    const unknown = await browser.json(`${interactionUrl.href}/login`, { username: 'nobody', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error).toBe('invalid_credentials');
  });
});

describe('embedded data directory', () => {
  test('a development start generates an encryption key and keeps data, keys and clients across a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-embedded-'));
    try {
      const overrides = { dataDir, encryptionKey: undefined, nodeEnv: 'development' };
      const first = await startTestIdp('embedded-dir', 'pglite', overrides);
      let kids: string[];
      let client: { client_id: string; client_secret: string };
      try {
        client = await registerClient(first.url, { first_party: true });
        await createUser(first.url, { external_id: 'emb-dir', username: 'dora', password: PASSWORD });
        kids = ((await (await fetch(`${first.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      } finally {
        await first.stop();
      }
      const keyFile = path.join(dataDir, 'encryption.key');
      expect(fs.existsSync(keyFile)).toBe(true);
      expect(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
      expect(fs.statSync(keyFile).mode & 0o077).toBe(0);

      const second = await startTestIdp('embedded-dir', 'pglite', overrides);
      try {
        const again = ((await (await fetch(`${second.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
        expect(again).toEqual(kids);
        const config = await discover(second.url, client.client_id, client.client_secret);
        const { tokens } = await authorize(config, { scope: 'openid', onStep: passwordSteps('dora', PASSWORD) });
        expect(tokens.id_token).toBeTruthy();
      } finally {
        await second.stop();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
