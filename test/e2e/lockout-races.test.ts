/**
 * The password and second-factor lockouts under concurrent guessing, the way an attacker sends
 * them: many requests at once, so that every guess is in flight before any failure is recorded.
 * Whatever the interleaving, no more than the threshold (plus one) of guesses may reach the check
 * against the real secret, and a right answer in the same burst must not get in or undo the lock.
 * Both counters belong to the account, whichever spelling of its name the guesses use.
 *
 * Evidence that a guess reached the real check is taken from what the IdP stored, not from timing:
 * each guess checked and found wrong leaves an `authn.login.failed` (reason `wrong_password`) or
 * `authn.mfa.failed` audit row, and the account's counters.
 */
import { type Mode, ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient } from '../helpers/api.js';
import { FakeClock, MINUTE, PASSWORD, beginAuth, codeAt, newUser, passwordStep, seedTotp, wrongCode } from '../helpers/mfa-flow.js';
import { createUser, discover, registerClient, type oc } from '../helpers/rp.js';

const MAX_FAILURES = 5;
const MFA_MAX_FAILURES = 10;
const SLACK = 1;

/** ASCII → its fullwidth form (U+FF01…U+FF5E), which NFKC folds back. */
const fullwidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

function suite(mode: Mode) {
  let idp: TestIdp;
  let config: oc.Configuration;
  const clock = new FakeClock();

  beforeAll(async () => {
    // A generous per-IP limit (every request comes from one address) and per-challenge limit, so
    // that only the account's lockout stands between the guesses and the checks.
    idp = await startTestIdp(
      `lockout-${mode}`,
      mode,
      { rateLimit: { loginPerIpPerMinute: 10_000 }, mfa: { attemptsPerChallenge: 30, recentAuthSeconds: 300 } },
      { clock },
    );
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
    await idp.container.settings.patchGlobal({ lockout: { max_failures: MAX_FAILURES, mfa_max_failures: MFA_MAX_FAILURES, lock_minutes: [15, 60] } });
  }, 60_000);
  afterAll(async () => {
    await idp.stop();
  });
  beforeEach(() => clock.reset());

  const events = (subject: string, type: string) =>
    idp.container.db.selectFrom('auditEvents').select(['type', 'data']).where('subject', '=', subject).where('type', '=', type).execute();
  /** Guesses compared with the real password hash and found wrong. */
  const checkedWrong = async (subject: string) =>
    (await events(subject, 'authn.login.failed')).filter((e) => (e.data as { reason?: string }).reason === 'wrong_password').length;
  const account = async (id: string) => (await idp.container.accounts.findById(id))!;

  /** One interaction, many password posts at once (as a script would send them). */
  async function burst(attempts: { username: string; password: string }[]) {
    const flow = await beginAuth(config);
    return Promise.all(attempts.map((a) => flow.post('login', a)));
  }
  /**
   * The right answer is sent while the wrong burst is still in flight, once the server has reserved
   * the whole budget for it: sent in the same array it could be reserved among the first ones, and
   * then be a legitimate guess within the budget.
   */
  async function whenBudgetReserved(id: string, reserved: (u: Awaited<ReturnType<typeof account>>) => boolean): Promise<void> {
    const until = Date.now() + 15_000;
    while (!reserved(await account(id))) {
      if (Date.now() > until) throw new Error('the burst never reserved the budget');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const wrong = (username: string, n: number) => Array.from({ length: n }, (_, i) => ({ username, password: `wrong-guess-${i}` }));

  function expectInvalidCredentials(r: { status: number; body: unknown }) {
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'invalid_credentials', error_description: 'invalid username or password' });
  }

  describe(`password (${mode})`, () => {
    test('30 wrong passwords at once: at most max_failures (+1) are checked against the hash; all get the same 401; the account ends locked', async () => {
      const user = await newUser(idp.url, 'burst');
      const answers = await burst(wrong(user.username, 30));
      answers.forEach(expectInvalidCredentials);

      expect(await checkedWrong(user.id)).toBeLessThanOrEqual(MAX_FAILURES + SLACK);
      const row = await account(user.id);
      expect(row.failedAttempts).toBeLessThanOrEqual(MAX_FAILURES + SLACK);
      expect(row.lockedUntil!.getTime()).toBeGreaterThan(clock.now() + 14 * MINUTE);
      // Every reserved check was settled: none is left holding a place.
      expect(row.passwordChecksPending).toBe(0);
      expect(await events(user.id, 'authn.account.locked')).toHaveLength(1);
      // The refused ones are on record too, as refusals of a locked account.
      expect(await events(user.id, 'authn.login.failed')).toHaveLength(30);
    });

    test('24 wrong passwords and the right one at once: the right one gets the same 401, and the lock stays', async () => {
      const user = await newUser(idp.url, 'burst-right');
      const flow = await beginAuth(config);
      const guesses = wrong(user.username, 24).map((a) => flow.post('login', a));
      await whenBudgetReserved(user.id, (u) => u.failedAttempts + u.passwordChecksPending >= MAX_FAILURES || u.lockedUntil !== null);
      const answers = await Promise.all([...guesses, flow.post('login', { username: user.username, password: PASSWORD })]);
      answers.forEach(expectInvalidCredentials);

      expect(await checkedWrong(user.id)).toBeLessThanOrEqual(MAX_FAILURES + SLACK);
      expect(await events(user.id, 'authn.login.succeeded')).toHaveLength(0);
      expect((await account(user.id)).lockedUntil!.getTime()).toBeGreaterThan(clock.now());
      // Still locked afterwards, for the right password too.
      expectInvalidCredentials((await passwordStep(config, user.username, PASSWORD)).login);
    });

    test('one account, one budget: wrong passwords spread over username, upper case, e-mail and fullwidth spellings at once', async () => {
      const name = `alice${process.pid}${mode === 'pglite' ? 'e' : 'p'}`;
      const created = await createUser(idp.url, { external_id: `ext-${name}`, username: name, email: `${name}@example.org`, password: PASSWORD });
      const spellings = [name, name.toUpperCase(), `${name}@example.org`, fullwidth(name), ` ${name.toUpperCase()}@EXAMPLE.ORG `];
      const attempts = Array.from({ length: 30 }, (_, i) => ({ username: spellings[i % spellings.length]!, password: `wrong-guess-${i}` }));
      const flow = await beginAuth(config);
      const guesses = attempts.map((a) => flow.post('login', a));
      await whenBudgetReserved(created.id, (u) => u.failedAttempts + u.passwordChecksPending >= MAX_FAILURES || u.lockedUntil !== null);
      const answers = await Promise.all([...guesses, flow.post('login', { username: fullwidth(`${name}@example.org`), password: PASSWORD })]);
      answers.forEach(expectInvalidCredentials);

      expect(await checkedWrong(created.id)).toBeLessThanOrEqual(MAX_FAILURES + SLACK);
      expect((await account(created.id)).lockedUntil!.getTime()).toBeGreaterThan(clock.now());
      // Yet another spelling, the right password, after the burst: refused.
      expectInvalidCredentials((await passwordStep(config, fullwidth(name.toUpperCase()), PASSWORD)).login);
    });

    test('a user with fewer than max_failures earlier failures still gets in with the right password, and the counter is cleared', async () => {
      const user = await newUser(idp.url, 'legit');
      for (const attempt of wrong(user.username, MAX_FAILURES - 1))
        expectInvalidCredentials((await passwordStep(config, attempt.username, attempt.password)).login);
      expect((await account(user.id)).failedAttempts).toBe(MAX_FAILURES - 1);

      const { login } = await passwordStep(config, user.username, PASSWORD);
      expect(login.status).toBe(200);
      expect(login.body.status).toBe('success');
      expect(await account(user.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    });

    test('more right passwords at once than max_failures (one user, many tabs): every one gets in, nothing locks', async () => {
      const user = await newUser(idp.url, 'tabs');
      const logins = await Promise.all(Array.from({ length: 4 * MAX_FAILURES }, () => passwordStep(config, user.username, PASSWORD)));
      expect(logins.map((l) => `${l.login.status} ${l.login.body.status}`)).toEqual(logins.map(() => '200 success'));
      expect(await account(user.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null, passwordChecksPending: 0 });
    });

    test('once a lock has run out, the next attempt is checked: the right password gets in and clears the count', async () => {
      const user = await newUser(idp.url, 'expired');
      await burst(wrong(user.username, MAX_FAILURES));
      expectInvalidCredentials((await passwordStep(config, user.username, PASSWORD)).login);

      clock.advance(16 * MINUTE);
      const { login } = await passwordStep(config, user.username, PASSWORD);
      expect(login.status).toBe(200);
      expect(await account(user.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    });
  });

  describe(`second factor (${mode})`, () => {
    async function totpUser(label: string) {
      const user = await newUser(idp.url, label);
      return { ...user, externalId: `ext-${user.username}`, secret: await seedTotp(idp.container, user.id) };
    }
    /** `n` logins of the user, each answered with the password and waiting at the TOTP challenge. */
    async function challenges(username: string, n: number) {
      const flows = [];
      for (let i = 0; i < n; i++) {
        const { flow, login } = await passwordStep(config, username, PASSWORD);
        expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
        flows.push(flow);
      }
      return flows;
    }
    const codeChecksFailed = async (subject: string) => (await events(subject, 'authn.mfa.failed')).length;
    const refusal = (r: { status: number; body: any }) => `${r.status} ${r.body.error}`;

    test('60 wrong codes at once over six login challenges: at most mfa_max_failures (+1) are evaluated; the lock ends the logins', async () => {
      const user = await totpUser('mfa-burst');
      const flows = await challenges(user.username, 6);
      const bad = await wrongCode(user.secret, clock.now());
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => flows[i % 6]!.post('mfa/totp', { code: bad })));

      expect(await codeChecksFailed(user.id)).toBeLessThanOrEqual(MFA_MAX_FAILURES + SLACK);
      for (const a of answers) expect(['401 invalid_code', '429 mfa_locked', '400 invalid_step']).toContain(refusal(a));
      expect(answers.filter((a) => refusal(a) === '401 invalid_code').length).toBeLessThan(MFA_MAX_FAILURES);
      const row = await account(user.id);
      expect(row.mfaLockedUntil!.getTime()).toBeGreaterThan(clock.now() + 14 * MINUTE);
      expect(await events(user.id, 'authn.mfa.locked')).toHaveLength(1);

      // A new login: the password is accepted (its own counter), the second factor stays locked.
      const [fresh] = await challenges(user.username, 1);
      expect(refusal(await fresh!.post('mfa/totp', { code: await codeAt(user.secret, clock.now()) }))).toBe('429 mfa_locked');
    });

    test('wrong codes and the right one at once: the right one does not get in, and the second factor ends locked', async () => {
      const user = await totpUser('mfa-burst-right');
      const flows = await challenges(user.username, 4);
      const bad = await wrongCode(user.secret, clock.now());
      const right = await codeAt(user.secret, clock.now());
      const guesses = Array.from({ length: 24 }, (_, i) => flows[i % 3]!.post('mfa/totp', { code: bad }));
      await whenBudgetReserved(user.id, (u) => u.mfaLockedUntil !== null);
      const answers = await Promise.all([...guesses, flows[3]!.post('mfa/totp', { code: right })]);

      expect(refusal(answers.at(-1)!)).toBe('429 mfa_locked');
      expect(await codeChecksFailed(user.id)).toBeLessThanOrEqual(MFA_MAX_FAILURES + SLACK);
      expect(await events(user.id, 'authn.mfa.verified')).toHaveLength(0);
      expect((await account(user.id)).mfaLockedUntil!.getTime()).toBeGreaterThan(clock.now());
    });

    test('platform API: 29 wrong codes and then the right one at once on POST /otp/verify (within its per-user rate limit): at most mfa_max_failures (+1) evaluated, the right one refused', async () => {
      const api = apiClient(
        () => idp.url,
        () => ADMIN_KEY,
      );
      const user = await totpUser('mfa-platform-burst');
      const bad = await wrongCode(user.secret, clock.now());
      const verify = (code: string) => api('POST', '/otp/verify', { otp: { id: user.externalId, code } });
      const right = await codeAt(user.secret, clock.now());
      const guesses = Array.from({ length: 29 }, () => verify(bad));
      await whenBudgetReserved(user.id, (u) => u.mfaLockedUntil !== null);
      const answers = await Promise.all([...guesses, verify(right)]);

      expect(await codeChecksFailed(user.id)).toBeLessThanOrEqual(MFA_MAX_FAILURES + SLACK);
      for (const a of answers) expect(['401 invalid_code', '429 mfa_locked']).toContain(refusal(a));
      expect(refusal(answers.at(-1)!)).toBe('429 mfa_locked');
      expect((await account(user.id)).mfaLockedUntil!.getTime()).toBeGreaterThan(clock.now());
    });
  });
}

describe('PostgreSQL and Redis', () => {
  suite('postgres+redis');
});

describe('embedded PGlite', () => {
  suite('pglite');
});
