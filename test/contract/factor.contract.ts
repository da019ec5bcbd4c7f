/**
 * What every MFA method plugged into the registry must do, checked through a real IdP (HTTP
 * server, PostgreSQL, Redis) and a real relying party: replay, expiry, the attempt cap, another
 * account's credential, hostile input, and the enrol → verify → remove life cycle.
 */
import { FactorError } from '../../src/authn/factor.js';
import type { MfaMethod } from '../../src/policy/types.js';
import type { TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser, passwordStep } from '../helpers/mfa-flow.js';
import type { oc } from '../helpers/rp.js';

/**
 * How the suite handles one method's credentials. `Held` is what the user holds after enrolment
 * (a TOTP secret, a list of backup codes, an authenticator). A response is a code, or for a method
 * that answers a server-issued challenge, `{credential}`; `challenge` is then what the IdP's begin
 * step answered (for a pending enrolment, what the enrolment showed).
 */
export interface FactorDriver<Held> {
  method: MfaMethod;
  /** Enrols the method for the account through the method's own enrolment. */
  enrol(idp: TestIdp, accountId: string): Promise<Held>;
  /** A response the IdP has not seen and accepts now. */
  valid(held: Held, challenge?: Record<string, unknown>): Promise<unknown>;
  /** A response that was once valid and no longer is (out of its time window, or already used). */
  expired(idp: TestIdp, accountId: string, held: Held): Promise<unknown>;
  /** A well-formed response that is wrong. */
  wrong(held: Held, challenge?: Record<string, unknown>): Promise<unknown>;
  /** For a method enrollable inside a login: what the user takes from the enrolment the login shows. */
  fromEnrolment?(shown: Record<string, unknown>): Promise<Held>;
  /**
   * For a method the user sets up through self-service: what the user takes from its answer (for a
   * method set up from the user's own choice, from the `choice` that was sent).
   */
  fromSelfService?(shown: Record<string, unknown>): Promise<Held>;
  /** For a method set up from what the user chooses (PUT /api/v1/mfa/{manage}): a new choice to send. */
  choice?(): Record<string, unknown>;
  /** For a method whose challenge start takes a body (where a code is sent): that body. */
  beginBody?(held: Held): unknown;
  /** What must happen before each start of a challenge (lifting a per-account limit that has tests of its own). */
  beforeStart?(held: Held): Promise<void>;
  /**
   * For a method answered out of band (on a device, while the login polls, which carries no
   * response): the device sends a response made by `valid`, `wrong` or `expired` where the method
   * takes it; gives what that endpoint answered.
   */
  send?(response: unknown): Promise<Reply>;
  /** For a method answered out of band: the device's answer to the challenge with a hostile value in place of its code, or a body as it is. */
  hostile?(held: Held, challenge: Record<string, unknown> | undefined, input: { value: unknown } | { body: string; type: string }): Promise<Reply>;
}

export interface Reply {
  status: number;
  body: any;
}

export interface FactorFixture {
  idp: TestIdp;
  config: oc.Configuration;
  /** A client whose policy makes every user without a factor enrol one. */
  enrolConfig: oc.Configuration;
  /** The IdP's per-challenge attempt cap. */
  attemptsPerChallenge: number;
}

/** Bodies an attacker sends instead of a code: the wrong type, too much, or not JSON at all. */
const HOSTILE_CODES: unknown[] = [123456, null, true, ['123456'], { $gt: '' }, 'x'.repeat(20_000), '\u0000123456', '１２３４５６', '<script>', "' or 1=1--"];
const HOSTILE_BODIES: { body: string; type: string }[] = [
  { body: '{"code":', type: 'application/json' },
  { body: '["code"]', type: 'application/json' },
  { body: '"123456"', type: 'application/json' },
  { body: 'code=%00%ff', type: 'application/x-www-form-urlencoded' },
];

/** What is posted for a response: a WebAuthn answer as it is, a code under `code`. */
const bodyOf = (response: unknown) => (typeof response === 'object' && response !== null && 'credential' in response ? response : { code: response });

export function describeFactor<Held>(get: () => FactorFixture, driver: FactorDriver<Held>): void {
  describe(`factor contract: ${driver.method}`, () => {
    const factor = () => {
      const f = get().idp.container.factors.get(driver.method);
      if (!f) throw new Error(`${driver.method} is not registered`);
      return f;
    };
    /** Where a login's response goes: after a begin step for a method that has one. */
    const answerPath = () => {
      const finish = factor().challenge ? (factor().paths.finish ?? 'finish') : '';
      return `mfa/${factor().paths.challenge}${finish ? `/${finish}` : ''}`;
    };
    const beginPath = () => `mfa/${factor().paths.challenge}/${factor().paths.begin ?? 'begin'}`;
    /** A method whose answer is awaited from a device (a prompt): the login polls, and the device answers at the method's own endpoint. */
    const outOfBand = () => factor().challenge?.waiting !== undefined;
    /** A challenge that stays until a right answer: a code sent on request, or a prompt sent to a device. */
    const staysUntilVerified = () => factor().challenge?.answered === 'until_verified';
    /**
     * A code sent by SMS is started once per login: a new start would be a resend. A prompt takes one
     * answer from the device, so each try is a new prompt.
     */
    const startedOnce = () => staysUntilVerified() && !outOfBand();
    /** The enrolment routes under /api/v1/mfa/{manage}. */
    const enrolmentPaths = () => factor().selfService?.enrolmentPaths ?? { begin: 'enroll', confirm: 'confirm' };

    async function enrolledUser(label: string) {
      const user = await newUser(get().idp.url, `${driver.method}-${label}`);
      return { ...user, held: await driver.enrol(get().idp, user.id) };
    }

    /** A new login of the user, stopped at the MFA challenge, which must offer this method. */
    async function challenge(username: string, held?: Held) {
      const { flow, login } = await passwordStep(get().config, username, PASSWORD);
      expect(login.status).toBe(200);
      expect(login.body).toMatchObject({ status: 'mfa_required', methods: expect.arrayContaining([driver.method]) });
      /** The challenge to answer: what the begin step answers, for a method that has one. */
      let kept: Record<string, unknown> | undefined;
      const begin = async (): Promise<Record<string, unknown> | undefined> => {
        if (!factor().challenge) return undefined;
        if (kept && startedOnce()) return kept;
        if (held !== undefined) await driver.beforeStart?.(held);
        const started = await flow.post(beginPath(), held !== undefined ? driver.beginBody?.(held) : undefined);
        expect(started.status).toBe(200);
        kept = started.body;
        return started.body;
      };
      /** The response, then (for a method answered out of band) a poll, with what the device was answered under `device`. */
      const answer = async (response: unknown): Promise<Reply & { device?: Reply }> => {
        if (!outOfBand()) return flow.post(answerPath(), bodyOf(response));
        if (!driver.send) throw new Error(`${driver.method} is answered out of band: its driver must send the device's answers`);
        const device = await driver.send(response);
        expect(device.status).toBeLessThan(500);
        return { ...(await flow.post(answerPath(), bodyOf(response))), device };
      };
      return {
        ...flow,
        begin,
        answer,
        /** Begins (where the method has that step) and answers with what `make` gives for the challenge. */
        respond: async (make: (challenge?: Record<string, unknown>) => Promise<unknown>) => answer(await make(await begin())),
      };
    }

    /** The login goes on (a poll that only says the login still waits is not that). */
    const accepted = (r: Reply) => r.status === 200 && r.body.status === 'success';
    const expectAccepted = (r: Reply) => expect(r).toMatchObject({ status: 200, body: { status: 'success' } });

    /**
     * Refused: 401 invalid_code. Answered out of band, a response that did not land on this login's
     * prompt (refused where the device answers, or for another login) leaves the login waiting, counting nothing.
     */
    const expectRefused = (r: Reply) => {
      if (outOfBand() && r.status === 200) {
        expect(r.body).toMatchObject({ status: 'pending' });
        return;
      }
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'invalid_code', error_description: expect.any(String) });
    };

    test("enrol → verify → remove: the login earns the descriptor's amr and aal (aal1 for a weak method); once removed, the method is neither offered nor accepted", async () => {
      const user = await enrolledUser('life');
      const flow = await challenge(user.username, user.held);
      // The challenge page shows the method's own form, posting to its own endpoint.
      const page = await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      const html = await page.text();
      // A method whose code (or prompt) is sent on request shows where to ask for it; the code field comes once it is sent.
      expect(html).toContain(`action="${flow.interactionUrl!.pathname}/${staysUntilVerified() ? beginPath() : answerPath()}"`);
      expect(html).toMatch(/name="csrf" value="[^"<]+"/);
      const ok = await flow.respond((c) => driver.valid(user.held, c));
      expect(ok.status).toBe(200);
      expect(ok.body.status).toBe('success');
      const { tokens, claims } = await flow.complete(ok.body.redirect_to);
      expect(claims.sub).toBe(user.id);
      // As high as the method can reach with the password (the drivers' credentials reach their method's most); a weak one never makes `mfa`.
      const { aal } = factor().descriptor;
      expect(claims.acr).toBe(`aal${aal}`);
      expect(claims.amr).toEqual(expect.arrayContaining(['pwd', ...factor().descriptor.amr, ...(aal >= 2 ? ['mfa'] : [])]));
      if (aal < 2) expect(claims.amr).not.toContain('mfa');

      // The user removes the method through self-service, with the second factor just proven.
      const self = (method: string, path: string) =>
        fetch(`${get().idp.url}/api/v1/mfa${path}`, { method, headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect((await (await self('GET', '')).json()).methods).toContain(driver.method);
      expect((await self('DELETE', `/${factor().paths.manage}`)).status).toBe(204);
      expect((await (await self('GET', '')).json()).methods).not.toContain(driver.method);
      expect((await self('DELETE', `/${factor().paths.manage}`)).status).toBe(404);
      const { container } = get().idp;
      const after = await passwordStep(get().config, user.username, PASSWORD);
      expect(after.login.body.methods ?? []).not.toContain(driver.method);
      await expect(factor().verify({ accountId: user.id, now: container.clock.now() }, await driver.valid(user.held))).rejects.toBeInstanceOf(FactorError);
    });

    test('enrolment inside a login: offered only when the descriptor says so; the first valid response finishes the login at aal2', async () => {
      const user = await newUser(get().idp.url, `${driver.method}-inlogin`);
      const { flow, login } = await passwordStep(get().enrolConfig, user.username, PASSWORD);
      expect(login.status).toBe(200);
      const started = await flow.post(`enroll/${factor().paths.challenge}`);
      if (!factor().descriptor.enrollableInLogin) {
        expect(login.body.allowed_methods ?? []).not.toContain(driver.method);
        expect(started.status).toBe(404);
        return;
      }
      expect(login.body).toEqual({ status: 'mfa_enrollment_required', allowed_methods: expect.arrayContaining([driver.method]) });
      expect(started.status).toBe(200);
      // The enrolment page of this method (the page offers each enrollable method in turn).
      const pageUrl = new URL(`${flow.interactionUrl!.href}?enroll=${driver.method}`);
      const page = await (await flow.browser.fetch(pageUrl, { headers: { accept: 'text/html' } })).text();
      expect(page).toContain(`action="${flow.interactionUrl!.pathname}/enroll/${factor().paths.challenge}/confirm"`);
      const confirm = `enroll/${factor().paths.challenge}/confirm`;
      let held = await driver.fromEnrolment!(started.body);
      expectRefused(await flow.post(confirm, bodyOf(await driver.wrong(held))));
      // A challenge is answered once, right or wrong: the next try starts a new one.
      if (factor().challenge) held = await driver.fromEnrolment!((await flow.post(`enroll/${factor().paths.challenge}`)).body);
      const ok = await flow.post(confirm, bodyOf(await driver.valid(held)));
      expect(ok.status).toBe(200);
      expect(ok.body.status).toBe('success');
      const { claims } = await flow.complete(ok.body.redirect_to);
      expect(claims.acr).toBe('aal2');
      expect(claims.amr).toEqual(expect.arrayContaining(['pwd', ...factor().descriptor.amr, 'mfa']));
      expect(await get().idp.container.factors.enrolledMethods(user.id)).toContain(driver.method);
    });

    /** A user signed in with the password alone, calling their own self-service API with the access token. */
    async function selfServiceUser(label: string) {
      const user = await newUser(get().idp.url, `${driver.method}-${label}`);
      const { flow, login } = await passwordStep(get().config, user.username, PASSWORD);
      expect(login.body.status).toBe('success');
      const { tokens } = await flow.complete(login.body.redirect_to);
      const call = async (method: string, path: string, body?: unknown, type = 'application/json') => {
        const res = await fetch(`${get().idp.url}/api/v1/mfa${path}`, {
          method,
          body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
          headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': type }) },
        });
        return { status: res.status, body: res.status === 204 ? undefined : await res.json() };
      };
      return { ...user, call };
    }

    /** Sets the method up the way its self-service part offers: enrol and confirm, or issue in one step. */
    async function setUpThroughSelfService(self: Awaited<ReturnType<typeof selfServiceUser>>): Promise<Held | undefined> {
      const {
        paths: { manage },
        selfService,
      } = factor();
      if (selfService?.enrolmentBody) {
        const { begin, confirm } = enrolmentPaths();
        const started = await self.call('POST', `/${manage}/${begin}`);
        expect(started.status).toBe(200);
        let held = await driver.fromSelfService!(started.body);
        expectRefused(await self.call('POST', `/${manage}/${confirm}`, bodyOf(await driver.wrong(held))));
        if (factor().challenge) held = await driver.fromSelfService!((await self.call('POST', `/${manage}/${begin}`)).body);
        const done = await self.call('POST', `/${manage}/${confirm}`, bodyOf(await driver.valid(held)));
        // A method holding several credentials answers with the new one; the others with the method.
        if (selfService.credentials) expect(done).toMatchObject({ status: 201, body: { id: expect.any(String) } });
        else expect(done).toEqual({ status: 200, body: { status: 'success', method: driver.method } });
        return held;
      }
      if (selfService?.issue) {
        const issued = await self.call('POST', `/${manage}`);
        expect(issued.status).toBe(200);
        return driver.fromSelfService!(issued.body);
      }
      if (selfService?.set) {
        const choice = driver.choice!();
        expect((await self.call('PUT', `/${manage}`, choice)).status).toBe(200);
        return driver.fromSelfService!(choice);
      }
      return undefined;
    }

    test("self-service: set up → summary → step-up verify → remove, each route from the plug-in's own part", async () => {
      const {
        paths: { manage },
        selfService,
      } = factor();
      const self = await selfServiceUser('self');
      const held = await setUpThroughSelfService(self);
      if (!selfService || held === undefined) {
        // No status route: nothing there, or (a method that can only be removed there) not for GET.
        expect([404, 405]).toContain((await self.call('GET', `/${manage}`)).status);
        return;
      }
      // The method's entry in the summary is what its own status route answers.
      const summary = await self.call('GET', '');
      expect(summary.body.methods).toContain(driver.method);
      const status = await self.call('GET', `/${manage}`);
      expect(status.status).toBe(200);
      expect(summary.body[selfService.summaryKey]).toEqual(status.body);
      // The new factor steps the session up, which a change of factors needs.
      if (outOfBand()) {
        // Only a login polls for a device's answer: a session steps up with it by signing in again (the enrolment just made this one fresh).
        const refused = await self.call('POST', `/${manage}/verify/begin`);
        expect(refused.status).toBeGreaterThanOrEqual(400);
        expect(refused.status).toBeLessThan(500);
        expect(refused.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
      } else {
        const challenge = factor().challenge ? (await self.call('POST', `/${manage}/verify/begin`)).body : undefined;
        expect(await self.call('POST', '/verify', bodyOf(await driver.valid(held, challenge)))).toEqual({
          status: 200,
          body: { status: 'success', method: driver.method },
        });
      }
      expect((await self.call('DELETE', `/${manage}`)).status).toBe(204);
      expect((await self.call('GET', '')).body.methods).not.toContain(driver.method);
    });

    test('self-service hostile input: every non-code answers a JSON 4xx (a value of the wrong type a 400 until the rate limit), never a 500', async () => {
      const {
        paths: { manage },
        selfService,
      } = factor();
      const self = await selfServiceUser('self-hostile');
      // Codes go to the enrolment's confirmation where there is one, else to the step-up.
      let path = '/verify';
      if (selfService?.enrolmentBody) {
        expect((await self.call('POST', `/${manage}/${enrolmentPaths().begin}`)).status).toBe(200);
        path = `/${manage}/${enrolmentPaths().confirm}`;
      } else {
        await setUpThroughSelfService(self);
      }
      let answered = 0;
      for (const code of HOSTILE_CODES) {
        const r = await self.call('POST', path, { code });
        expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
        if (r.status === 429) continue;
        answered += 1;
        if (typeof code === 'string') expect([400, 401, 413]).toContain(r.status);
        else expect(r.status).toBe(400);
      }
      expect(answered).toBeGreaterThan(0);
      for (const { body, type } of HOSTILE_BODIES) {
        const r = await self.call('POST', path, body, type);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
      }
    });

    test('replay: a response accepted once is refused in the next login, even sent by many at once', async () => {
      const user = await enrolledUser('replay');
      const first = await challenge(user.username, user.held);
      const code = await driver.valid(user.held, await first.begin());
      expectAccepted(await first.answer(code));
      const again = await Promise.all(Array.from({ length: 4 }, () => challenge(user.username, user.held)));
      for (const f of again) await f.begin();
      const answers = await Promise.all(again.map((f) => f.answer(code)));
      for (const r of answers) expectRefused(r);
      // Out of band, the device's endpoint refuses it too.
      for (const { device } of answers) if (device) expect(device.status).toBeGreaterThanOrEqual(400);
    });

    test('a race: the same fresh response sent to five challenges at once is accepted exactly once', async () => {
      const user = await enrolledUser('race');
      const flows = await Promise.all(Array.from({ length: 5 }, () => challenge(user.username, user.held)));
      const begun = [];
      for (const f of flows) begun.push(await f.begin());
      const code = await driver.valid(user.held, begun[0]);
      const results = await Promise.all(flows.map((f) => f.answer(code)));
      expect(results.filter(accepted)).toHaveLength(1);
      for (const r of results.filter((x) => !accepted(x))) expectRefused(r);
      // Out of band, the device's endpoint takes the answer once.
      if (outOfBand()) expect(results.filter((r) => r.device!.status === 200)).toHaveLength(1);
    });

    test('expiry: a response past its validity is refused', async () => {
      const user = await enrolledUser('expiry');
      const flow = await challenge(user.username, user.held);
      await flow.begin();
      const r = await flow.answer(await driver.expired(get().idp, user.id, user.held));
      expectRefused(r);
      if (r.device) expect(r.device.status).toBeGreaterThanOrEqual(400);
    });

    test('the attempt cap: a burst of wrong responses at one challenge gets at most the cap of answers, then the challenge is void even for a right one', async () => {
      const cap = get().attemptsPerChallenge;
      const user = await enrolledUser('cap');
      const flow = await challenge(user.username, user.held);
      // Codes come all at once; a challenge-response method answers one challenge per begin, so in turn.
      const burst = [];
      if (factor().challenge) for (let i = 0; i < cap + 3; i++) burst.push(await flow.respond((c) => driver.wrong(user.held, c)));
      else {
        const wrong = await driver.wrong(user.held);
        burst.push(...(await Promise.all(Array.from({ length: cap + 3 }, () => flow.answer(wrong)))));
      }
      const refused = burst.filter((r) => r.status === 401);
      const capped = burst.filter((r) => r.status === 429);
      expect(refused.length + capped.length).toBe(burst.length);
      expect(refused.length).toBeLessThan(cap);
      for (const r of capped) expect(r.body.error).toBe('too_many_attempts');
      const right = await flow.respond((c) => driver.valid(user.held, c));
      expect(right.status).toBe(429);
      expect(right.body.error).toBe('too_many_attempts');
    });

    test("another account's credential is refused, and stays usable by its owner", async () => {
      const [alice, bob] = await Promise.all([enrolledUser('alice'), enrolledUser('bob')]);
      const atBob = await challenge(bob.username, bob.held);
      const alicesCode = await driver.valid(alice.held, await atBob.begin());
      expectRefused(await atBob.answer(alicesCode));
      const atAlice = await challenge(alice.username, alice.held);
      // A code is still unused; a challenge-response method answers Alice's own challenge.
      expectAccepted(await atAlice.answer(factor().challenge ? await driver.valid(alice.held, await atAlice.begin()) : alicesCode));
    });

    test('hostile input: every non-code answers a JSON 4xx (a value of the wrong type a 400), never a 500', async () => {
      const user = await enrolledUser('hostile');
      // Out of band, the login's poll carries no response: hostile input goes where the device answers, and leaves the login waiting.
      const sendHostile = async (flow: Awaited<ReturnType<typeof challenge>>, input: { value: unknown } | { body: string; type: string }) => {
        if (!driver.hostile) throw new Error(`${driver.method} is answered out of band: its driver must send hostile answers`);
        const r = await driver.hostile(user.held, await flow.begin(), input);
        expect(await flow.post(answerPath())).toMatchObject({ status: 200, body: { status: 'pending' } });
        return r;
      };
      // A new challenge per few inputs: each one counts toward the attempt cap.
      const perChallenge = Math.max(1, get().attemptsPerChallenge - 1);
      for (let i = 0; i < HOSTILE_CODES.length; i += perChallenge) {
        const flow = await challenge(user.username, user.held);
        for (const code of HOSTILE_CODES.slice(i, i + perChallenge)) {
          let r: Reply;
          if (outOfBand()) r = await sendHostile(flow, { value: code });
          else {
            await flow.begin();
            r = await flow.answer(code);
          }
          expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
          if (typeof code === 'string') expect([400, 401, 413]).toContain(r.status);
          else expect(r.status).toBe(400);
        }
      }
      const flow = await challenge(user.username, user.held);
      for (const { body, type } of HOSTILE_BODIES) {
        if (outOfBand()) {
          const r = await sendHostile(flow, { body, type });
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
        } else await flow.begin();
        const res = await flow.browser.fetch(`${flow.interactionUrl!.href}/${answerPath()}`, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': type },
          body,
        });
        const answered = await res.json();
        // A poll that reads no body may answer that the login still waits; never more.
        if (outOfBand() && res.status === 200) expect(answered).toMatchObject({ status: 'pending' });
        else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(answered).toEqual({ error: expect.any(String), error_description: expect.any(String) });
        }
      }
      // None of it cost the user the method: a right code still signs in.
      const last = await challenge(user.username, user.held);
      expectAccepted(await last.respond((c) => driver.valid(user.held, c)));
    });
  });
}
