/**
 * Signing keys and configuration checks at start-up:
 * JWKS publishes public parts only, rotation keeps old tokens verifiable while new ones carry the
 * new kid, nodes sharing a database serve the same keys, and bad configuration stops start-up
 * with a message naming the setting.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_KEY, DATABASE_URL, REDIS_URL, TEST_ENCRYPTION_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

const PASSWORD = 'correct horse battery staple';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

type Jwk = Record<string, unknown> & { kid: string };
const jwks = async (url: string): Promise<Jwk[]> => {
  const res = await fetch(`${url}/jwks`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: Jwk[] }).keys;
};
const kids = async (url: string) => (await jwks(url)).map((k) => k.kid).sort();
/** A fresh JWKS fetcher each time, as a relying party that just started would have. */
const verifyAgainstJwks = (url: string, token: string, audience: string): Promise<{ payload: JWTPayload }> =>
  jwtVerify(token, createRemoteJWKSet(new URL(`${url}/jwks`)), { issuer: url, audience });

describe('signing keys', () => {
  let idp: TestIdp;
  let peer: TestIdp;
  let client: { client_id: string; client_secret: string };
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('keys');
    // A second node on the same schema and Redis prefix: a stateless replica behind the same load balancer.
    peer = await startTestIdp('keys-peer', 'postgres+redis', { databaseSchema: idp.name, redisKeyPrefix: `${idp.name}:` });
    client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await createUser(idp.url, { external_id: 'keys-user', username: 'kim', password: PASSWORD });
  });
  afterAll(async () => {
    await peer.close();
    await idp.stop();
  });

  const clientCredentialsJwt = async () => (await oc.clientCredentialsGrant(config, { scope: 'api' })).access_token;

  test('JWKS publishes only the public parts of RS256 signing keys', async () => {
    const keys = await jwks(idp.url);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String), n: expect.any(String), e: 'AQAB' });
      for (const m of PRIVATE_MEMBERS) expect(k).not.toHaveProperty(m);
    }
    // Private parts are sealed at rest too.
    const rows = await idp.container.db.selectFrom('signingKeys').select(['privateSealed', 'publicJwk']).execute();
    for (const r of rows) {
      expect(r.privateSealed).toMatch(/^v1\./);
      expect(r.privateSealed).not.toContain('"d"');
      for (const m of PRIVATE_MEMBERS) expect(r.publicJwk ?? {}).not.toHaveProperty(m);
    }
  });

  test('two nodes sharing a database serve the same JWKS', async () => {
    expect(await kids(peer.url)).toEqual(await kids(idp.url));
    // A token from one node verifies against the other's JWKS.
    const token = await clientCredentialsJwt();
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${peer.url}/jwks`)), { issuer: idp.url, audience: `${idp.url}/api` });
    expect(payload.client_id).toBe(client.client_id);
  });

  test('rotation: JWKS has old and new kid, old tokens still verify, new tokens carry the new kid, on every node', async () => {
    const before = await kids(idp.url);
    const { tokens, browser } = await authorize(config, { scope: 'openid', onStep: passwordSteps('kim', PASSWORD) });
    const oldIdToken = tokens.id_token!;
    const oldAccess = await clientCredentialsJwt();
    const oldKid = decodeProtectedHeader(oldAccess).kid;
    expect(before).toContain(oldKid);
    expect(decodeProtectedHeader(oldIdToken).kid).toBe(oldKid);

    const newKid = await idp.container.keyStore.rotate(3600);
    expect(await idp.container.providers.reload()).toBe(true);
    expect(await idp.container.providers.reload()).toBe(false); // nothing changed since

    const after = await kids(idp.url);
    expect(after).toEqual([...before, newKid].sort());

    // Tokens signed before the rotation still verify against the published JWKS.
    await expect(verifyAgainstJwks(idp.url, oldIdToken, client.client_id)).resolves.toBeDefined();
    await expect(verifyAgainstJwks(idp.url, oldAccess, `${idp.url}/api`)).resolves.toBeDefined();

    // New tokens are signed with the new key.
    const newAccess = await clientCredentialsJwt();
    expect(decodeProtectedHeader(newAccess).kid).toBe(newKid);
    await expect(verifyAgainstJwks(idp.url, newAccess, `${idp.url}/api`)).resolves.toBeDefined();

    // The SSO session survives the provider rebuild: prompt=none signs in silently with a new-kid id_token.
    const silent = await authorize(config, {
      browser,
      scope: 'openid',
      params: { prompt: 'none' },
      onStep: async () => {
        throw new Error('no interaction expected');
      },
    });
    expect(decodeProtectedHeader(silent.tokens.id_token!).kid).toBe(newKid);

    // The other node picks the rotation up on its reload (its timer, or now).
    expect(await peer.container.providers.reload()).toBe(true);
    expect(await kids(peer.url)).toEqual(after);
    const peerConfig = await discover(peer.url, client.client_id, client.client_secret);
    const fromPeer = (await oc.clientCredentialsGrant(peerConfig, { scope: 'api' })).access_token;
    expect(decodeProtectedHeader(fromPeer).kid).toBe(newKid);
  });

  test('a retired key leaves JWKS once its retirement time has passed', async () => {
    const oldAccess = await clientCredentialsJwt();
    const oldKid = decodeProtectedHeader(oldAccess).kid;
    const newKid = await idp.container.keyStore.rotate(1);
    await idp.container.providers.reload();
    expect(await kids(idp.url)).toContain(oldKid);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await idp.container.providers.reload()).toBe(true);
    const live = await kids(idp.url);
    expect(live).toContain(newKid);
    expect(live).not.toContain(oldKid);
    // A key retired earlier keeps its own (longer) retirement time: a new rotation never shortens it.
    expect(live).toHaveLength(2);
    await expect(verifyAgainstJwks(idp.url, oldAccess, `${idp.url}/api`)).rejects.toThrow();
  });

  test('keys are created once even when nodes start together', async () => {
    const a = startTestIdp('keys-race');
    const first = await a;
    const racers = await Promise.all(
      [1, 2, 3].map(() => startTestIdp('keys-race-peer', 'postgres+redis', { databaseSchema: first.name, redisKeyPrefix: `${first.name}:` })),
    );
    try {
      const sig = await first.container.db.selectFrom('signingKeys').select('kid').where('use', '=', 'sig').execute();
      expect(sig).toHaveLength(1);
      for (const r of racers) expect(await kids(r.url)).toEqual(await kids(first.url));
    } finally {
      for (const r of racers) await r.close();
      await first.stop();
    }
  });
});

describe('configuration at start-up', () => {
  const base = { DATABASE_URL, REDIS_URL, PORT: '0', LOG_LEVEL: 'silent' };

  const configError = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
  };

  test.each([
    [{ IDP_SESSION__ABSOLUTE_SECONDS: '999999' }, 'session.absoluteSeconds'],
    [{ IDP_SESSION__IDLE_SECONDS: '50000' }, 'session.idleSeconds'],
    [{ IDP_SESSION__IDLE_SECONDS: '0' }, 'session.idleSeconds'],
    [{ PORT: 'abc' }, 'port'],
    [{ PORT: '70000' }, 'port'],
    [{ LOG_LEVEL: 'loud' }, 'logLevel'],
    [{ NODE_ENV: 'staging' }, 'nodeEnv'],
    [{ DATABASE_URL: 'mysql://db/idp' }, 'databaseUrl'],
    [{ REDIS_URL: 'http://cache:6379' }, 'redisUrl'],
    [{ ISSUER: 'not a url' }, 'issuer'],
    [{ BOOTSTRAP_API_KEY: 'short' }, 'bootstrapApiKey'],
    [{ IDP_LOCKOUT__MAX_FAILURES: '1000' }, 'lockout.maxFailures'],
    [{ IDP_TTL__AUTHORIZATION_CODE_SECONDS: '3600' }, 'ttl.authorizationCodeSeconds'],
    [{ IDP_TTL__ACCESS_TOKEN_SECONDS: '-5' }, 'ttl.accessTokenSeconds'],
    [{ IDP_LIMITS__JSON_BODY_BYTES: 'lots' }, 'limits.jsonBodyBytes'],
  ])('%j → ConfigError naming %s', (env, setting) => {
    expect(configError({ ...base, ...env })).toContain(setting);
  });

  test('valid environment overrides reach the configuration', () => {
    const c = loadConfig({ ...base, IDP_SESSION__IDLE_SECONDS: '900', IDP_LOCKOUT__MAX_FAILURES: '10', ISSUER: 'https://id.example.test/' });
    expect(c.session.idleSeconds).toBe(900);
    expect(c.lockout.maxFailures).toBe(10);
    expect(c.issuer).toBe('https://id.example.test');
    expect(c.apiAudience).toBe('https://id.example.test/api');
  });

  test('production without ENCRYPTION_KEY refuses to start', async () => {
    const config = loadConfig({ ...base, NODE_ENV: 'production', BOOTSTRAP_API_KEY: ADMIN_KEY });
    const err = await startServer(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('ENCRYPTION_KEY');
  });

  test('an ENCRYPTION_KEY that is not 32 bytes refuses to start', async () => {
    const config = loadConfig({ ...base, NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(16, 1).toString('base64') });
    const err = await startServer(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('ENCRYPTION_KEY');
  });

  test('production with a valid ENCRYPTION_KEY starts', async () => {
    const idp = await startTestIdp('keys-prod', 'postgres+redis', { nodeEnv: 'production', encryptionKey: TEST_ENCRYPTION_KEY });
    try {
      expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
      expect((await new Browser().fetch(`${idp.url}/.well-known/openid-configuration`)).status).toBe(200);
    } finally {
      await idp.stop();
    }
  });

  test('the provider configuration passes the boot audit', async () => {
    const idp = await startTestIdp('keys-audit');
    try {
      const meta = (await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
      expect(meta.response_types_supported).toEqual(['code']);
      expect(meta.code_challenge_methods_supported).toEqual(['S256']);
      expect(meta.grant_types_supported).not.toContain('implicit');
      expect(meta.grant_types_supported).not.toContain('password');
      expect(meta.id_token_signing_alg_values_supported).toEqual(['RS256']);
      expect(meta.id_token_signing_alg_values_supported).not.toContain('none');
      expect(idp.container.config.session.absoluteSeconds).toBeLessThanOrEqual(43200);
    } finally {
      await idp.stop();
    }
  });
});
