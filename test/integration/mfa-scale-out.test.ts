/**
 * The MFA login across two IdP nodes (in-process) that share one PostgreSQL schema and one Redis
 * prefix behind one issuer, with every request alternating between them: the login transaction,
 * the attempt counter and the TOTP replay state must live in the shared stores, never in memory.
 */
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, codeAt, newUser, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { roundRobin } from '../helpers/processes.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';
import { oc, registerClient } from '../helpers/rp.js';

let a: TestIdp;
let b: TestIdp;
let lb: ReturnType<typeof roundRobin>;
let config: oc.Configuration;

beforeAll(async () => {
  a = await startTestIdp('mfa-scale-a', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  b = await startTestIdp('mfa-scale-b', 'postgres+redis', {
    databaseSchema: a.name,
    redisKeyPrefix: `${a.name}:`,
    issuer: a.url,
    rateLimit: { loginPerIpPerMinute: 10_000 },
  });
  await a.container.settings.patchGlobal({ lockout: { mfa_max_failures: 100 } });
  const client = await registerClient(b.url, { first_party: true });
  lb = roundRobin([a.port, b.port]);
  config = await oc.discovery(new URL(a.url), client.client_id, client.client_secret, undefined, {
    execute: [oc.allowInsecureRequests],
    [oc.customFetch]: lb.customFetch,
  });
  config[oc.customFetch] = lb.customFetch;
}, 30_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  if (a) await deleteKeysWithPrefix(`${a.name}:`);
});

async function totpUser(label: string) {
  const user = await newUser(a.url, label);
  return { ...user, secret: await seedTotp(b.container, user.id) };
}

/** The ports that answered requests to `path` prefix since `from` (an index into lb.served). */
const portsFor = (from: number, prefix: string) =>
  new Set(
    lb.served
      .slice(from)
      .filter((s) => s.path.startsWith(prefix))
      .map((s) => s.port),
  );

test('both nodes serve one issuer with the same keys', async () => {
  const [ma, mb] = await Promise.all([a, b].map(async (n) => (await fetch(`${n.url}/.well-known/openid-configuration`)).json() as Promise<{ issuer: string }>));
  expect(ma!.issuer).toBe(a.url);
  expect(mb!.issuer).toBe(a.url);
  const [ja, jb] = await Promise.all([a, b].map(async (n) => (await fetch(`${n.url}/jwks`)).json()));
  expect(jb).toEqual(ja);
});

test('password + TOTP login with every request alternating between the two nodes: acr aal2, amr pwd/otp/mfa', async () => {
  const user = await totpUser('scale-mfa');
  const from = lb.served.length;
  const flow = await beginAuth(config, { browser: new Browser(lb.rewrite) });
  const login = await flow.post('login', { username: user.username, password: PASSWORD });
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  // The transaction written by one node is read by the other.
  expect((await flow.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  expect((await flow.details()).body).toMatchObject({ step: 'mfa', methods: ['totp'] });
  const res = await flow.post('mfa/totp', { code: await codeAt(user.secret, Date.now()) });
  expect(res.status).toBe(200);
  const { claims } = await flow.complete(res.body.redirect_to);
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe('aal2');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

  const served = lb.served.slice(from);
  for (let i = 1; i < served.length; i++) expect(served[i]!.port).not.toBe(served[i - 1]!.port);
  expect(portsFor(from, '/interaction/')).toEqual(new Set([a.port, b.port]));
  expect(portsFor(from, '/token').size).toBe(1);
});

test('a code accepted through one node is refused through the other (replay state is shared)', async () => {
  const user = await totpUser('scale-replay');
  const code = await codeAt(user.secret, Date.now());
  const results = [];
  for (let i = 0; i < 2; i++) {
    const flow = await beginAuth(config, { browser: new Browser(lb.rewrite) });
    expect((await flow.post('login', { username: user.username, password: PASSWORD })).body.status).toBe('mfa_required');
    results.push(await flow.post('mfa/totp', { code }));
  }
  expect(results.map((r) => r.status)).toEqual([200, 401]);
  expect(results[1]!.body.error).toBe('invalid_code');
});

test('the per-challenge attempt limit counts across both nodes: the 10th wrong code → 429, then the right one too', async () => {
  const user = await totpUser('scale-limit');
  const flow = await beginAuth(config, { browser: new Browser(lb.rewrite) });
  expect((await flow.post('login', { username: user.username, password: PASSWORD })).body.status).toBe('mfa_required');
  const from = lb.served.length;
  const bad = await wrongCode(user.secret);
  const statuses = [];
  for (let i = 0; i < 10; i++) statuses.push((await flow.post('mfa/totp', { code: bad })).status);
  expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 401, 429]);
  expect(portsFor(from, '/interaction/')).toEqual(new Set([a.port, b.port]));
  const right = await flow.post('mfa/totp', { code: await codeAt(user.secret, Date.now()) });
  expect(right.status).toBe(429);
  expect(right.body.error).toBe('too_many_attempts');
});

test('trusting a device on one node skips MFA on the other', async () => {
  await a.container.settings.patchGlobal({ mfa: { trusted_device_duration_days: 7 } });
  await b.container.settings.patchGlobal({ mfa: { trusted_device_duration_days: 7 } });
  try {
    const user = await totpUser('scale-device');
    const browser = new Browser(lb.rewrite);
    const flow = await beginAuth(config, { browser });
    expect((await flow.post('login', { username: user.username, password: PASSWORD })).body.status).toBe('mfa_required');
    expect((await flow.post('mfa/totp', { code: await codeAt(user.secret, Date.now()) })).body.status).toBe('trust_device');
    const trusted = await flow.post('trust-device', { trust: true });
    expect(browser.cookies('localhost').get('idp_device')).toBeTruthy();
    await flow.complete(trusted.body.redirect_to);

    // Same browser (device cookie kept), session cookie dropped: a new login skips MFA on whichever node answers.
    for (const name of [...browser.cookies('localhost').keys()]) if (name !== 'idp_device') browser.cookies('localhost').delete(name);
    const second = await beginAuth(config, { browser });
    const login = await second.post('login', { username: user.username, password: PASSWORD });
    expect(login.body.status).toBe('success');
    expect((await second.complete(login.body.redirect_to)).claims.amr).toEqual(['pwd']);
  } finally {
    await a.container.settings.patchGlobal({ mfa: { trusted_device_duration_days: 0 } });
  }
});
