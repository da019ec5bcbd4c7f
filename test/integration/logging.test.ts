import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/logger.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, totpCode } from '../helpers/mfa.js';
import { passwordStep } from '../helpers/mfa-flow.js';
import { authorize, createUser, discover, registerClient } from '../helpers/rp.js';

/** Every line the IdP logs, at debug level, with secrets flowing through login, MFA and the admin API. */
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
let idp: TestIdp;
const PASSWORD = 'a very secret passphrase 42';
let secret: string;
let code: string;
let client: { client_id: string; client_secret: string };

beforeAll(async () => {
  idp = await startTestIdp('logging', 'postgres+redis', { logLevel: 'debug' }, { logger: createLogger('debug', sink) });
  client = await registerClient(idp.url, { first_party: true });
  const user = await createUser(idp.url, { external_id: 'log-1', username: 'logan', password: PASSWORD });
  secret = await enrolTotp(idp.container, user.id);
  const config = await discover(idp.url, client.client_id, client.client_secret);
  await authorize(config, {
    onStep: async ({ interactionUrl, browser }) => {
      expect((await browser.json(`${interactionUrl.href}/login`, { username: 'logan', password: 'wrong passphrase' })).status).toBe(401);
      await browser.json(`${interactionUrl.href}/login`, { username: 'logan', password: PASSWORD });
      code = await totpCode(secret);
      return (await browser.json(`${interactionUrl.href}/mfa/totp`, { code })).body.redirect_to;
    },
  });
  // A request that fails loudly (unknown admin key) is logged too.
  await fetch(`${idp.url}/api/v1/clients`, { headers: { authorization: `Bearer ${ADMIN_KEY}-wrong` } });
});
afterAll(async () => {
  await idp.stop();
});

test('logs are JSON lines carrying a request id', () => {
  expect(lines.length).toBeGreaterThan(5);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const requestLines = parsed.filter((l) => l.msg === 'request' || l.msg === 'request rejected' || l.audit);
  expect(requestLines.length).toBeGreaterThan(3);
  expect(requestLines.every((l) => typeof l.requestId === 'string' || l.audit !== undefined)).toBe(true);
  expect(parsed.some((l) => l.audit === 'authn.login.failed')).toBe(true);
  expect(parsed.some((l) => l.audit === 'authn.mfa.verified')).toBe(true);
});

test('no secret ever reaches a log: passwords, TOTP seed and codes, client secret, API keys', () => {
  const all = lines.join('\n');
  for (const value of [PASSWORD, 'wrong passphrase', secret, client.client_secret, ADMIN_KEY]) {
    expect(all).not.toContain(value);
  }
  // Six digits may occur inside timestamps by chance: only a standalone occurrence is the code.
  expect(all).not.toMatch(new RegExp(`(?<![0-9])${code}(?![0-9])`));
});

test('a refusal logs what its plain answer leaves out (the detail), and only the log has it', async () => {
  const parsed = lines.map((l) => JSON.parse(l) as { msg?: string; error?: string; detail?: { reason?: string } });
  const refused = parsed.find((l) => l.msg === 'request rejected' && l.error === 'invalid_credentials');
  expect(refused?.detail).toEqual({ reason: 'wrong_password' });
  // The client saw one answer for every reason.
  const config = await discover(idp.url, client.client_id, client.client_secret);
  const { login } = await passwordStep(config, 'nobody-at-all', 'whatever it is');
  expect(login.status).toBe(401);
  expect(login.body).toEqual({ error: 'invalid_credentials', error_description: 'invalid username or password' });
  const unknown = lines.map((l) => JSON.parse(l) as { error?: string; detail?: { reason?: string } }).filter((l) => l.error === 'invalid_credentials');
  expect(unknown.map((l) => l.detail?.reason)).toContain('unknown_user');
});
