/**
 * What a password + TOTP login costs in PostgreSQL round trips, counted on the real server's
 * connections, step by step: each step reads the account once, with its active credentials; the
 * resume of the finished login does not decide again; the code exchange reads its Session, Grant,
 * account and authentication record in one statement, and still answers what the login proved.
 */
import { startTestIdp, type Mode, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, passwordStep, seedTotp } from '../helpers/mfa-flow.js';
import { QUIET_SERVER, countStatements, reads } from '../helpers/pg-traffic.js';
import { discover, oc, registerClient } from '../helpers/rp.js';

const { counted, mark } = countStatements();
const TOKEN = '-- token endpoint --';
const originalFetch = globalThis.fetch;

beforeAll(() => {
  globalThis.fetch = (input, init) => {
    if (new URL(input instanceof Request ? input.url : String(input)).pathname === '/token') mark(TOKEN);
    return originalFetch(input, init);
  };
});
afterAll(() => {
  globalThis.fetch = originalFetch;
});

// The login budgets include the session's record, written once the resume saved the session.
describe.each<[Mode, number, number]>([
  // Each decision (password, TOTP) and the exchange ask whether a break-glass grant is active for the user: 3 of these.
  ['postgres+redis', 3, 19],
  ['postgres', 5, 38],
])('%s', (mode, exchangeStatements, loginStatements) => {
  let idp: TestIdp;
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('login-traffic', mode, QUIET_SERVER);
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await idp.container.settings.patchGlobal({ mfa: { policy: 'any', reauth_interval_minutes: 0 } });
  });
  afterAll(() => idp.stop());

  /** A password + TOTP login, authorization request to redeemed code: the statements of each step. */
  async function signIn() {
    const user = await newUser(idp.url, 'traffic');
    const secret = await seedTotp(idp.container, user.id);
    const password = await counted(() => passwordStep(config, user.username, PASSWORD));
    expect(password.result.login.body.status).toBe('mfa_required');
    const { flow } = password.result;
    const totp = await counted(async () => flow.post('mfa/totp', { code: await codeAt(secret, Date.now()) }));
    expect(totp.result.status).toBe(200);
    const back = await counted(() => flow.complete(totp.result.body.redirect_to));
    const at = back.statements.indexOf(TOKEN);
    return {
      user,
      tokens: back.result.tokens,
      password: password.statements,
      totp: totp.statements,
      resume: back.statements.slice(0, at),
      exchange: back.statements.slice(at + 1),
    };
  }

  test('each step reads the account once; the resume does not decide again; the code exchange reads all it needs in one statement', async () => {
    await signIn(); // connections warm
    const { user, tokens, password, totp, resume, exchange } = await signIn();
    // The account with its credential counts in one statement; in the TOTP step, that read is its lockout reservation.
    expect(reads(password, 'users')).toHaveLength(1);
    expect(reads(password, 'credentials')).toEqual([]);
    expect(reads(totp, 'users')).toEqual([]);
    expect(reads(totp, 'credentials').filter((s) => /group by kind/.test(s))).toEqual([]);
    // The Check at the resume stands on the verdict the TOTP step reached; findAccount reads the user once.
    expect(reads(resume, 'credentials', 'authn_states')).toEqual([]);
    expect(reads(resume, 'users')).toHaveLength(1);
    // Besides, a token from a multi-factor login asks whether a break-glass grant is active for its user: one indexed read.
    expect(exchange.filter((s) => /^select/i.test(s) && !/break_glass_grants/.test(s))).toHaveLength(1);
    expect(reads(exchange, 'break_glass_grants')).toHaveLength(1);
    expect(exchange).toHaveLength(exchangeStatements);
    expect(tokens.claims()).toMatchObject({ sub: user.id, acr: 'aal2', amr: ['pwd', 'otp', 'mfa'] });
    const all = [...password, '--', ...totp, '--', ...resume, TOKEN, ...exchange];
    // On failure, the statements sent show where they went.
    expect(all.length - 3 <= loginStatements ? [] : all).toEqual([]);
  });
});
