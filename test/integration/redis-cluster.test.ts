import crypto from 'node:crypto';
import { Cluster } from 'ioredis';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createAdapterClass } from '../../src/oidc/adapter.js';
import { createClientCache } from '../../src/oidc/client-cache.js';
import type { RunningServer } from '../../src/server.js';
import { createRedisOidcStore } from '../../src/store/redis/redis-oidc.store.js';
import { createSqlOidcStore } from '../../src/store/sql/sql-oidc.store.js';
import { Browser } from '../helpers/browser.js';
import { dropSchema, uniqueName } from '../helpers/env.js';
import { roundRobin, startSharedIdp } from '../helpers/processes.js';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.js';
import { authorize, createUser, oc, passwordSteps, registerClient } from '../helpers/rp.js';

/**
 * A real 3-master Redis Cluster (redis-server child processes) behind two in-process IdPs that
 * share one PostgreSQL schema: every key must carry a hash tag that keeps multi-key work in one
 * slot, and nothing may assume a single Redis node.
 */
const name = uniqueName('cluster');
let cluster: RedisClusterHandle | undefined;
let a: RunningServer | undefined;
let b: RunningServer | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  const overrides = { redisClusterNodes: cluster.nodes, redisKeyPrefix: `${name}:` };
  a = await startSharedIdp(name, 'postgres', overrides);
  // Same issuer for both, as two nodes behind one load balancer.
  b = await startSharedIdp(name, 'postgres', { ...overrides, issuer: a.url });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await dropSchema(name);
  await cluster?.stop();
}, 30_000);

const newId = () => crypto.randomBytes(16).toString('base64url');

test('the IdPs run on the cluster: /readyz is green and the Redis client is a Cluster client', async () => {
  for (const idp of [a!, b!]) {
    const res = await fetch(`${idp.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ checks: { postgres: 'ok', redis: 'ok' } });
    const redis = idp.container.redis;
    expect(redis).toBeInstanceOf(Cluster);
    expect(
      (redis as Cluster)
        .nodes('master')
        .map((n) => n.options.port)
        .sort(),
    ).toEqual([...cluster!.ports].sort());
  }
});

test('a code + PKCE login hopping between both IdPs on every request', async () => {
  const issuer = a!.url;
  const client = await registerClient(a!.url, { first_party: true });
  await createUser(b!.url, { external_id: `dave-${name}`, username: 'dave', email: 'dave@example.test', password: 'correct horse battery staple' });

  const before = (await cluster!.dbsizes()).reduce((x, y) => x + y, 0);
  const lb = roundRobin([a!.port, b!.port]);
  const config = await oc.discovery(new URL(issuer), client.client_id, client.client_secret, undefined, {
    execute: [oc.allowInsecureRequests],
    [oc.customFetch]: lb.customFetch,
  });
  config[oc.customFetch] = lb.customFetch;
  const { tokens } = await authorize(config, { browser: new Browser(lb.rewrite), onStep: passwordSteps('dave', 'correct horse battery staple') });

  expect(new Set(lb.served.filter((s) => s.path.startsWith('/interaction/')).map((s) => s.port)).size).toBe(2);
  const tokenPort = lb.served.find((s) => s.path === '/token')!.port;
  const other = tokenPort === a!.port ? b! : a!;
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${other.url}/jwks`)), { issuer, audience: client.client_id });
  expect(payload.amr).toEqual(['pwd']);
  const info = await oc.fetchUserInfo(config, tokens.access_token, payload.sub!);
  expect(info.email).toBe('dave@example.test');
  // The login's short-lived state (interaction, code, access token, rate-limit windows) went to the cluster.
  const after = (await cluster!.dbsizes()).reduce((x, y) => x + y, 0);
  expect(after).toBeGreaterThan(before);
});

describe("OIDC store on the cluster (two IdPs' own cluster connections)", () => {
  const adapters = () => {
    const durable = createSqlOidcStore(a!.container.db);
    return [a!, b!].map((idp) =>
      createAdapterClass({
        durable,
        shortLived: createRedisOidcStore(idp.container.redis!),
        clients: createClientCache(idp.container.clients, idp.container.box),
        idKey: 'cluster-id-key',
        box: idp.container.box,
      }),
    );
  };

  test('50 concurrent consume() of one authorization code across both connections: exactly one winner', async () => {
    const [A, B] = adapters();
    const id = newId();
    const grantId = newId();
    const sibling = newId();
    await new A!('AuthorizationCode').upsert(id, { accountId: 'u-1', clientId: 'c-1', grantId }, 60);
    await new B!('AccessToken').upsert(sibling, { accountId: 'u-1', grantId }, 60);
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => new (i % 2 ? A! : B!)('AuthorizationCode').consume(id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(49);
    for (const r of rejected) expect(r.reason).toMatchObject({ name: 'InvalidGrant', error: 'invalid_grant' });
    // The losers count as a reuse: the grant is revoked, sibling token included.
    expect(await new A!('AccessToken').find(sibling)).toBeUndefined();
  });

  test("revokeByGrantId removes a grant's entries spread over several masters", async () => {
    const [A, B] = adapters();
    const grantId = newId();
    const keep = newId();
    const ids = Array.from({ length: 30 }, newId);
    const sizesBefore = await cluster!.dbsizes();
    await Promise.all(ids.map((id, i) => new (i % 2 ? A! : B!)('AccessToken').upsert(id, { grantId, n: i }, 60)));
    await new A!('AccessToken').upsert(keep, { grantId: newId() }, 60);
    const sizesWith = await cluster!.dbsizes();
    // The 30 entries (hash-tagged by id) landed on more than one master.
    expect(sizesWith.filter((n, i) => n > sizesBefore[i]!).length).toBeGreaterThanOrEqual(2);
    for (const id of ids.slice(0, 3)) expect(await new B!('AccessToken').find(id)).toMatchObject({ grantId });

    await new B!('RefreshToken').revokeByGrantId(grantId);

    const found = await Promise.all(ids.map((id) => new A!('AccessToken').find(id)));
    expect(found.filter((x) => x !== undefined)).toEqual([]);
    expect(await new B!('AccessToken').find(keep)).toBeDefined();
  });

  test('findByUid and findByUserCode work when index and entry live in different slots', async () => {
    const [A, B] = adapters();
    const id = newId();
    const uid = newId();
    const userCode = `X-${newId().slice(0, 8)}`;
    await new A!('Interaction').upsert(id, { uid, kind: 'Interaction' }, 60);
    await new A!('DeviceCode').upsert(id, { userCode, grantId: newId() }, 60);
    expect(await new B!('Interaction').findByUid(uid)).toMatchObject({ uid });
    expect(await new B!('DeviceCode').findByUserCode(userCode)).toMatchObject({ userCode });
  });
});
