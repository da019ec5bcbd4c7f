/**
 * What a password + TOTP login costs in PostgreSQL round trips at the token endpoint, counted on
 * the real server's connections: the code exchange reads its Session, Grant, account and
 * authentication record in one statement, and still answers what the login proved.
 */
import pg from 'pg';
import { startTestIdp, type Mode, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

/** Every statement any pg client of this process sends while counting is on; `/token` marks where the code exchange began. */
const statements: string[] = [];
let counting = false;
const TOKEN = '-- token endpoint --';
const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const originalQuery = proto.query;
const originalFetch = globalThis.fetch;

beforeAll(() => {
  proto.query = function countingQuery(this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    if (counting) statements.push(typeof first === 'string' ? first : first?.text ?? '?');
    return originalQuery.apply(this, args);
  };
  globalThis.fetch = (input, init) => {
    if (counting && new URL(input instanceof Request ? input.url : String(input)).pathname === '/token') statements.push(TOKEN);
    return originalFetch(input, init);
  };
});
afterAll(() => {
  proto.query = originalQuery;
  globalThis.fetch = originalFetch;
});

describe.each<[Mode, number]>([['postgres+redis', 2], ['postgres', 4]])('%s', (mode, exchangeStatements) => {
  let idp: TestIdp;
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('login-traffic', mode);
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
  });
  afterAll(() => idp.stop());

  /** A password + TOTP login up to the redirect back to the client; the statements of resume and code exchange. */
  async function signIn() {
    const user = await newUser(idp.url, 'traffic');
    const secret = await seedTotp(idp.container, user.id);
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body.status).toBe('mfa_required');
    const totp = await flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) });
    expect(totp.status).toBe(200);
    statements.length = 0;
    counting = true;
    try {
      const { tokens } = await flow.complete(totp.body.redirect_to);
      const at = statements.indexOf(TOKEN);
      return { user, tokens, resume: statements.slice(0, at), exchange: statements.slice(at + 1) };
    } finally {
      counting = false;
    }
  }

  test('the code exchange reads session, grant, account and authentication record in one statement', async () => {
    await signIn(); // connections warm
    const { user, tokens, resume, exchange } = await signIn();
    expect(exchange.filter((s) => /^\s*select/i.test(s))).toHaveLength(1);
    expect(exchange).toHaveLength(exchangeStatements);
    // findAccount at the resume reads the user once however often the engine asks.
    expect(resume.filter((s) => /from "?users"?/.test(s) && /"?id"? = \$1/.test(s)).length).toBeLessThanOrEqual(2);
    expect(tokens.claims()).toMatchObject({ sub: user.id, acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
  });
});
