import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Browser } from '../helpers/browser.js';
import { dropSchema, uniqueName } from '../helpers/env.js';
import { freePort, roundRobin, startIdpProcess, type IdpProcess } from '../helpers/processes.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';
import { authorize, createUser, oc, passwordSteps, registerClient } from '../helpers/rp.js';

/**
 * Two IdP OS processes behind one issuer, sharing one PostgreSQL schema and one Redis prefix.
 * Every request of a login alternates between them, as behind a load balancer without sticky
 * sessions: nothing may live in one process's memory.
 */
const name = uniqueName('scale-out');
let a: IdpProcess | undefined;
let b: IdpProcess | undefined;
let issuer: string;

beforeAll(async () => {
  const portA = await freePort();
  let portB = await freePort();
  while (portB === portA) portB = await freePort();
  issuer = `http://localhost:${portA}`;
  const common = { issuer, schema: name, redisKeyPrefix: `${name}:` };
  // Booted together on an empty schema: migrations and first-key creation must cope with the race.
  const started = await Promise.allSettled([startIdpProcess({ ...common, port: portA }), startIdpProcess({ ...common, port: portB })]);
  if (started[0].status === 'fulfilled') a = started[0].value;
  if (started[1].status === 'fulfilled') b = started[1].value;
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await dropSchema(name);
  await deleteKeysWithPrefix(`${name}:`);
}, 30_000);

test('both processes publish the same issuer and the same signing keys', async () => {
  const [metaA, metaB] = await Promise.all(
    [a!, b!].map(async (p) => (await fetch(`${p.url}/.well-known/openid-configuration`)).json() as Promise<{ issuer: string }>),
  );
  expect(metaA!.issuer).toBe(issuer);
  expect(metaB!.issuer).toBe(issuer);
  const [jwksA, jwksB] = await Promise.all([a!, b!].map(async (p) => (await fetch(`${p.url}/jwks`)).json() as Promise<{ keys: { kid: string }[] }>));
  expect(jwksA!.keys.length).toBeGreaterThan(0);
  expect(jwksB).toEqual(jwksA);
});

test('a code + PKCE login where every request alternates between the two processes', async () => {
  // Admin writes on one node are visible on the other.
  const client = await registerClient(a!.url, { first_party: true });
  await createUser(b!.url, { external_id: `carol-${name}`, username: 'carol', email: 'carol@example.test', password: 'correct horse battery staple' });

  const lb = roundRobin([a!.port, b!.port]);
  const config = await oc.discovery(new URL(issuer), client.client_id, client.client_secret, undefined, {
    execute: [oc.allowInsecureRequests],
    [oc.customFetch]: lb.customFetch,
  });
  config[oc.customFetch] = lb.customFetch;

  const { tokens } = await authorize(config, { browser: new Browser(lb.rewrite), onStep: passwordSteps('carol', 'correct horse battery staple') });

  // The flow really was spread: both nodes answered authorization, interaction and protocol requests.
  const ports = new Set(lb.served.map((s) => s.port));
  expect(ports).toEqual(new Set([a!.port, b!.port]));
  for (const port of ports) expect(lb.served.filter((s) => s.port === port).length).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < lb.served.length; i++) expect(lb.served[i]!.port).not.toBe(lb.served[i - 1]!.port);
  const interactionPorts = new Set(lb.served.filter((s) => s.path.startsWith('/interaction/')).map((s) => s.port));
  expect(interactionPorts.size).toBe(2);
  const tokenCall = lb.served.find((s) => s.path === '/token')!;
  expect(tokenCall).toBeDefined();

  // The id_token, issued by one process, verifies against the JWKS fetched from the other.
  const other = tokenCall.port === a!.port ? b! : a!;
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${other.url}/jwks`)), { issuer, audience: client.client_id });
  expect(payload.amr).toEqual(['pwd']);
  expect(payload.sub).toBeTruthy();

  // Tokens and refresh rotation work whichever node gets the next request.
  const info = await oc.fetchUserInfo(config, tokens.access_token, payload.sub!);
  expect(info.email).toBe('carol@example.test');
  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).not.toBe(tokens.access_token);
  await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  const refreshCalls = lb.served.filter((s) => s.path === '/token').map((s) => s.port);
  expect(new Set(refreshCalls).size).toBe(2);
});
