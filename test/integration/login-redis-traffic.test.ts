/**
 * What a password + TOTP login costs in Redis commands, counted on the real server's connections
 * (a MULTI/EXEC counts each queued command), from the authorization request to the redeemed code.
 */
import { Redis } from 'ioredis';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;

const commands: string[] = [];
let counting = false;
const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
const originalSend = proto.sendCommand;

beforeAll(async () => {
  proto.sendCommand = function countingSend(this: unknown, ...args: unknown[]) {
    if (counting) commands.push((args[0] as { name?: string } | undefined)?.name ?? '?');
    return originalSend.apply(this, args);
  };
  idp = await startTestIdp('login-redis-traffic', 'postgres+redis');
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
});
afterAll(async () => {
  proto.sendCommand = originalSend;
  await idp.stop();
});

async function totpLogin(): Promise<string[]> {
  const user = await newUser(idp.url, 'redis-traffic');
  const secret = await seedTotp(idp.container, user.id);
  commands.length = 0;
  counting = true;
  try {
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.status).toBe('mfa_required');
    const res = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
    expect(res.status).toBe(200);
    const { claims } = await flow.complete(res.body.redirect_to);
    expect(claims.sub).toBeTruthy();
    return [...commands];
  } finally {
    counting = false;
  }
}

test('a password + TOTP login, authorization request to redeemed code, sends at most 20 Redis commands', async () => {
  await totpLogin(); // connections warm, scripts loaded
  const sent = await totpLogin();
  // On failure, the commands sent show where they went.
  expect(sent.length <= 20 ? [] : sent).toEqual([]);
});

test('after Redis forgets its scripts (as after a restart), the next login still succeeds', async () => {
  await idp.container.redis!.script('FLUSH');
  // Each script missing from the cache costs one extra round trip (NOSCRIPT, then the script itself);
  // no count is asserted, as other processes on the same server may load the scripts meanwhile.
  await totpLogin(); // asserts each step's answer
});
