/**
 * Operations: liveness, readiness, Prometheus metrics, and failing closed with a 503 when Redis or
 * PostgreSQL goes away under a running IdP (a dependency error is never a verdict: never 401
 * invalid_credentials, never 500). The test starts and stops its own
 * redis-server and PostgreSQL on loopback ports.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { freePort, startRedis } from '../helpers/processes.js';
import { REDIRECT_URI, authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';

/** A throw-away PostgreSQL cluster of our own (initdb as the postgres user). */
async function startPostgres(): Promise<{ url: string; stop(): Promise<void>; cleanup(): void }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-ops-pg-'));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const asPostgres = (cmd: string) => execFileSync('su', ['postgres', '-c', cmd], { stdio: 'pipe' });
  asPostgres(`initdb -D ${data} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8`);
  asPostgres(`pg_ctl -D ${data} -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off" -l ${dir}/server.log -w start`);
  let running = true;
  const stopCommand = `pg_ctl -D ${data} -m immediate -w stop`;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // Asynchronous: the IdP runs in this process and must keep serving (and noticing) while it stops.
    async stop() {
      if (!running) return;
      running = false;
      await promisify(execFile)('su', ['postgres', '-c', stopCommand]);
    },
    cleanup() {
      try {
        if (running) asPostgres(stopCommand);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const expectJsonError = (r: { status: number; body: any }, status: number) => {
  expect(r.status).toBe(status);
  expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
};

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
};

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function tokenRequest(url: string, client: { client_id: string; client_secret: string }, params: Record<string, string>) {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as any };
}

/** Up to the login form: an interaction in the IdP's short-lived store. */
async function startInteraction(idp: TestIdp, config: oc.Configuration, scope = 'openid') {
  const browser = new Browser();
  const verifier = oc.randomPKCECodeVerifier();
  const authUrl = oc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    state: oc.randomState(),
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const res = await browser.fetch(authUrl);
  expect(res.status).toBe(303);
  return { browser, verifier, interactionUrl: new URL(res.headers.get('location')!, idp.url), authUrl };
}

describe('healthy IdP', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp('ops');
  });
  afterAll(async () => {
    await idp.stop();
  });

  test('/healthz → 200', async () => {
    const res = await fetch(`${idp.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  test('/readyz → 200 with postgres and redis ok', async () => {
    expect(await readyz(idp.url)).toEqual({ status: 200, body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } } });
  });

  test('/metrics exposes login counts by outcome and request latency', async () => {
    const client = await registerClient(idp.url, { first_party: true });
    const config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'ops-m', username: 'metric', password: PASSWORD });
    const { browser, interactionUrl } = await startInteraction(idp, config);
    expect((await browser.json(`${interactionUrl.href}/login`, { username: 'metric', password: 'wrong' })).status).toBe(401);
    expect((await browser.json(`${interactionUrl.href}/login`, { username: 'metric', password: PASSWORD })).status).toBe(200);

    const res = await fetch(`${idp.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE idp_logins_total counter$/m);
    expect(text).toMatch(/^idp_logins_total\{outcome="failure"\} 1$/m);
    expect(text).toMatch(/^idp_logins_total\{outcome="success"\} 1$/m);
    expect(text).toMatch(/^# TYPE idp_http_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^idp_http_request_duration_seconds_count\{method="POST",route="\/interaction\/:uid\/login",status="401"\} 1$/m);
    expect(text).toMatch(/^idp_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/healthz",status="200"\} \d+$/m);
    // Route labels stay bounded: no interaction uid in any label.
    expect(text).not.toContain(interactionUrl.pathname.split('/')[2]!);
  });

  test('unknown paths answer a JSON error', async () => {
    const res = await fetch(`${idp.url}/no-such-page`, { headers: { accept: 'application/json' } });
    expectJsonError({ status: res.status, body: await res.json() }, 404);
  });
});

describe('Redis goes down under a running IdP', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let idp: TestIdp;
  let client: { client_id: string; client_secret: string };
  let config: oc.Configuration;

  beforeAll(async () => {
    redis = await startRedis();
    idp = await startTestIdp('ops-redis', 'postgres+redis', { redisUrl: redis.url });
    client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'ops-r', username: 'rita', password: PASSWORD });
  });
  afterAll(async () => {
    await redis.kill();
    await idp.stop();
  });

  test('readiness, login and token requests answer 503, never 401 or 500', async () => {
    expect((await readyz(idp.url)).status).toBe(200);
    // A code (short-lived, in Redis) obtained before the outage, and a refresh token (PostgreSQL).
    const done = await startInteraction(idp, config);
    const ok = await done.browser.json(`${done.interactionUrl.href}/login`, { username: 'rita', password: PASSWORD });
    expect(ok.status).toBe(200);
    const callback = await done.browser.follow(new URL(ok.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();
    const { browser, interactionUrl, authUrl } = await startInteraction(idp, config);
    const { tokens } = await authorize(config, { scope: 'openid', onStep: passwordSteps('rita', PASSWORD) });

    await redis.kill();

    const ready = await readyz(idp.url);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'unavailable', checks: { postgres: 'ok', redis: 'unavailable' } });
    expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);

    // Right and wrong password alike: a dependency outage is never a verdict on the credentials.
    for (const password of [PASSWORD, 'wrong password']) {
      const login = await browser.json(`${interactionUrl.href}/login`, { username: 'rita', password });
      expectJsonError(login, 503);
      expect(login.body.error).toBe('temporarily_unavailable');
      expect(login.res.headers.get('retry-after')).toBeTruthy();
    }

    const details = await browser.json(interactionUrl);
    expectJsonError(details, 503);

    const token = await tokenRequest(idp.url, client, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: done.verifier });
    expectJsonError(token, 503);
    expect(token.body.error).toBe('temporarily_unavailable');
    // The opaque access token lives in Redis: userinfo and introspection say 503, never "invalid" or active:false.
    const userinfo = await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expectJsonError({ status: userinfo.status, body: await userinfo.json() }, 503);
    const introspection = await fetch(`${idp.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expectJsonError({ status: introspection.status, body: await introspection.json() }, 503);

    // client_credentials needs neither store (a JWT, not persisted): it keeps working.
    expect((await tokenRequest(idp.url, client, { grant_type: 'client_credentials', scope: 'api' })).status).toBe(200);

    // A new authorization request: the relying party is told temporarily_unavailable (RFC 6749 §4.1.2.1).
    const auth = await fetch(authUrl, { redirect: 'manual' });
    expect(auth.status).toBe(303);
    const back = new URL(auth.headers.get('location')!);
    expect(back.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(back.searchParams.get('error')).toBe('temporarily_unavailable');

    // The account was not charged a failure for attempts made during the outage.
    const user = await idp.container.accounts.findByExternalId('ops-r');
    expect(user?.failedAttempts).toBe(0);
  }, 60_000);
});

describe('PostgreSQL goes down under a running IdP', () => {
  let pgServer: Awaited<ReturnType<typeof startPostgres>>;
  let idp: TestIdp;
  let client: { client_id: string; client_secret: string };
  let config: oc.Configuration;

  beforeAll(async () => {
    pgServer = await startPostgres();
    // Its own PostgreSQL, shared Redis (the schema lives and dies with the cluster).
    idp = await startTestIdp('ops-pg', 'postgres+redis', { databaseUrl: pgServer.url });
    client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'ops-p', username: 'paula', password: PASSWORD });
  }, 60_000);
  afterAll(async () => {
    await idp.close();
    pgServer.cleanup();
  });

  test('readiness, login and token requests answer 503, never 401 or 500', async () => {
    expect((await readyz(idp.url)).body.checks).toEqual({ postgres: 'ok', redis: 'ok' });
    // Tokens from before the outage: the refresh token lives in PostgreSQL.
    const done = await startInteraction(idp, config, 'openid offline_access');
    const ok = await done.browser.json(`${done.interactionUrl.href}/login`, { username: 'paula', password: PASSWORD });
    expect(ok.status).toBe(200);
    const callback = await done.browser.follow(new URL(ok.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const tokens = await tokenRequest(idp.url, client, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: done.verifier,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeTruthy();
    const { browser, interactionUrl } = await startInteraction(idp, config);

    await pgServer.stop();

    const ready = await readyz(idp.url);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'unavailable', checks: { postgres: 'unavailable', redis: 'ok' } });

    for (const password of [PASSWORD, 'wrong password']) {
      const login = await browser.json(`${interactionUrl.href}/login`, { username: 'paula', password });
      expectJsonError(login, 503);
      expect(login.body.error).toBe('temporarily_unavailable');
    }

    const refreshed = await tokenRequest(idp.url, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expectJsonError(refreshed, 503);
    expect(refreshed.body.error).toBe('temporarily_unavailable');

    const userinfo = await fetch(`${idp.url}/me`, { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
    expectJsonError({ status: userinfo.status, body: await userinfo.json() }, 503);

    // An outage is never a verdict on the token (ory/hydra#3811): no active:false while PostgreSQL is down.
    const introspection = await fetch(`${idp.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.body.access_token }),
    });
    expectJsonError({ status: introspection.status, body: await introspection.json() }, 503);

    const admin = await fetch(`${idp.url}/api/v1/users/profile?externalUserId=ops-p`, {
      headers: { authorization: 'Bearer test-bootstrap-admin-key-0123456789abcdef' },
    });
    expectJsonError({ status: admin.status, body: await admin.json() }, 503);
  }, 60_000);
});
