/**
 * Security questions end to end, on a real IdP (PostgreSQL, Redis) and a real relying party: the
 * user sets answers through self-service, a login asks a random subset under identifiers of that
 * challenge alone, answered once; answers are normalised and stored as argon2id hashes; the method
 * is AAL1 only, never a second factor for an aal2 request.
 */
import { DEFAULT_QUESTIONS } from '../../src/policy/settings.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, totpCode } from '../helpers/mfa.js';
import { FakeClock, PASSWORD, awayFromStepBoundary, newUser, passwordStep, pageAfterPost } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const clock = new FakeClock();
const RECENT_AUTH_SECONDS = 300;
let idp: TestIdp;
let config: oc.Configuration;
/** A client whose own policy allows security questions alone. */
let questionsOnly: oc.Configuration;
const api = apiClient(() => idp.url);

beforeAll(async () => {
  idp = await startTestIdp(
    'mfa-questions',
    'postgres+redis',
    { rateLimit: { loginPerIpPerMinute: 10_000 }, mfa: { attemptsPerChallenge: 20, recentAuthSeconds: RECENT_AUTH_SECONDS } },
    { clock },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  const only = await registerClient(idp.url, { first_party: true, mfa_policy: { policy: 'any', allowed_methods: ['questions'], enforce_enrollment: true } });
  questionsOnly = await discover(idp.url, only.client_id, only.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { allowed_methods: ['totp', 'passkey', 'backup_code', 'questions'] },
    lockout: { mfa_max_failures: 100 },
  });
});
afterAll(() => idp.stop());
afterEach(() => clock.reset());

const [Q1, Q2, Q3] = DEFAULT_QUESTIONS as [(typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number], (typeof DEFAULT_QUESTIONS)[number]];
/** The answers every user here sets, as typed when set. */
const CHOSEN = new Map([
  [Q1.text, 'Rex the Dog'],
  [Q2.text, 'Saint-Exupéry School'],
  [Q3.text, 'Baker Street'],
]);
const setBody = { answers: [Q1, Q2, Q3].map((q) => ({ question_id: q.id, answer: CHOSEN.get(q.text)! })) };

interface Shown {
  questions: { identifier: string; question: string }[];
}
/** Answers to what a challenge showed, each spelt by `spell` from the chosen answer. */
const answering = (shown: Shown, spell: (chosen: string) => string = (a) => a) => ({
  answers: shown.questions.map((q) => ({ identifier: q.identifier, answer: spell(CHOSEN.get(q.question) ?? 'unknown') })),
});

/** A user signed in with the password alone, calling their own self-service API with the access token. */
async function signedIn(label: string) {
  const user = await newUser(idp.url, `q-${label}`);
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('success');
  const { tokens } = await flow.complete(login.body.redirect_to);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${idp.url}/api/v1/mfa${path}`, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headers: {
        authorization: `Bearer ${tokens.access_token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
    });
    return { status: res.status, body: res.status === 204 ? undefined : await res.json(), res };
  };
  return { ...user, call };
}

/** A user with the answers set (through the method's own set-up). */
async function withAnswers(label: string) {
  const user = await newUser(idp.url, `q-${label}`);
  await idp.container.factors.get('questions')!.selfService!.set!(user.id, setBody);
  return user;
}

/** A login of the user stopped at the challenge, which offers security questions. */
async function atChallenge(username: string, cfg = config) {
  const { flow, login } = await passwordStep(cfg, username, PASSWORD);
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['questions'] });
  const begin = async (): Promise<Shown> => {
    const r = await flow.post('mfa/questions/begin');
    expect(r.status).toBe(200);
    return r.body as Shown;
  };
  return { ...flow, begin, answer: (body: unknown) => flow.post('mfa/questions', body) };
}

describe('self-service', () => {
  test('PUT sets the answers (audited); GET shows which questions are set, never an answer; the database holds argon2id hashes only', async () => {
    const user = await signedIn('set');
    expect((await user.call('GET', '/questions')).body).toMatchObject({ set: false, questions: [], required_answers: 3, asked: 2 });
    const put = await user.call('PUT', '/questions', setBody);
    expect(put).toMatchObject({ status: 200, body: { status: 'success', questions: [Q1.id, Q2.id, Q3.id] } });
    const status = await user.call('GET', '/questions');
    expect(status.body).toMatchObject({ set: true, questions: expect.arrayContaining([{ id: Q1.id, text: Q1.text }]), set_at: expect.any(String) });
    const summary = await user.call('GET', '');
    expect(summary.body.methods).toContain('questions');
    expect(summary.body.questions).toEqual(status.body);
    // An administrator sees the same, and no answer either.
    const admin = await api('GET', `/users/${user.id}/questions`);
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual(status.body);
    for (const text of [JSON.stringify(status.body), admin.text]) expect(text.toLowerCase()).not.toMatch(/rex|baker|exup/);

    const rows = await idp.container.db
      .selectFrom('securityAnswers as a')
      .innerJoin('credentials as c', 'c.id', 'a.credentialId')
      .select(['a.questionId', 'a.answerHash', 'c.secretSealed', 'c.secretHash', 'c.name'])
      .where('c.userId', '=', user.id)
      .execute();
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.answerHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(row.secretSealed).toBeNull();
      // Neither as typed nor normalised, nor any part of them.
      for (const plain of ['rex', 'dog', 'baker', 'exup', 'saint']) expect(JSON.stringify(row).toLowerCase()).not.toContain(plain);
    }
    const events = await idp.container.db
      .selectFrom('auditEvents')
      .selectAll()
      .where('subject', '=', user.id)
      .where('type', '=', 'authn.security_answers.changed')
      .execute();
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0]!.data).toLowerCase()).not.toContain('rex');
  });

  test('refused with a 400 naming the field: too short once normalised, one answer for two questions, unknown or repeated question, too few answers', async () => {
    const user = await signedIn('refusals');
    const cases: [unknown, string][] = [
      [{ answers: [{ question_id: Q1.id, answer: 'a.b' }, setBody.answers[1], setBody.answers[2]] }, 'answers.0.answer'],
      [{ answers: [{ question_id: Q1.id, answer: '  !!  ' }, setBody.answers[1], setBody.answers[2]] }, 'answers.0.answer'],
      [{ answers: [setBody.answers[0], setBody.answers[1], { question_id: Q3.id, answer: ' REX  the dog! ' }] }, 'answers.2.answer'],
      [{ answers: [setBody.answers[0], setBody.answers[1], { question_id: 'favourite-colour', answer: 'blue' }] }, 'answers.2.question_id'],
      [{ answers: [setBody.answers[0], setBody.answers[1], { question_id: Q1.id, answer: 'another one' }] }, 'answers.2.question_id'],
      [{ answers: [setBody.answers[0], setBody.answers[1]] }, 'answers'],
    ];
    for (const [body, field] of cases) {
      const r = await user.call('PUT', '/questions', body);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(new RegExp(`^${field.replace(/\./g, '\\.')}:`)) });
      if (r.status === 429) break;
    }
    expect((await user.call('GET', '/questions')).body.set).toBe(false);
  });

  test('hostile bodies (huge arrays, non-strings, 10k-character answers, unknown fields, bad ids, not JSON) answer 400, never a 500', async () => {
    const user = await signedIn('hostile');
    const bodies: unknown[] = [
      { answers: Array.from({ length: 1000 }, (_, i) => ({ question_id: `q${i}`, answer: `answer ${i}` })) },
      { answers: [{ question_id: Q1.id, answer: 42 }] },
      { answers: [{ question_id: Q1.id, answer: ['rex'] }] },
      { answers: [{ question_id: Q1.id, answer: 'x'.repeat(10_000) }] },
      { answers: [{ question_id: Q1.id, answer: { $ne: '' } }] },
      { answers: [{ question_id: '../../etc', answer: 'rex the dog' }] },
      { answers: [{ question_id: 'Q'.repeat(100), answer: 'rex the dog' }] },
      { answers: [{ question_id: Q1.id, answer: 'rex\u0000dog' }] },
      { answers: 'rex' },
      { answers: null },
      { answers: [...setBody.answers], role: 'admin' },
      [setBody],
      'rex',
      '{"answers":',
    ];
    for (const body of bodies) {
      const r = await user.call('PUT', '/questions', body);
      expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
      if (r.status === 429) continue;
      expect(r.status).toBe(400);
    }
  });

  test('setting answers needs a fresh sign-in, is rate limited per user; DELETE removes them', async () => {
    const user = await signedIn('fresh');
    clock.advance((RECENT_AUTH_SECONDS + 5) * 1000);
    expectJsonError(await user.call('PUT', '/questions', setBody), 403, 'step_up_required');
    clock.reset();
    expect((await user.call('PUT', '/questions', setBody)).status).toBe(200);
    // The per-user budget of set-ups (argon2id per answer) runs out.
    const burst = await Promise.all(Array.from({ length: 25 }, () => user.call('PUT', '/questions', setBody)));
    expect(burst.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    for (const r of burst) expect([200, 429]).toContain(r.status);
    // Concurrent replacements leave exactly one set.
    const sets = await idp.container.db.selectFrom('credentials').select('id').where('userId', '=', user.id).where('kind', '=', 'questions').execute();
    expect(sets).toHaveLength(1);
    expect((await user.call('DELETE', '/questions')).status).toBe(204);
    expect((await user.call('GET', '/questions')).body.set).toBe(false);
    expect(await idp.container.db.selectFrom('securityAnswers').select('credentialId').where('credentialId', '=', sets[0]!.id).execute()).toHaveLength(0);
  });
});

describe('settings', () => {
  test("an organisation's own catalogue and counts: its users answer its questions, the challenge asks as many as it says; bad blocks are a 400", async () => {
    const slug = `q-org-${process.pid}`;
    expect((await api('POST', '/organizations', { slug })).status).toBe(201);
    const catalogue = [
      { id: 'team', text: 'Which team did you first support?' },
      { id: 'book', text: 'Which book did you read first?' },
      { id: 'city', text: 'Where were you born?' },
      { id: 'dish', text: 'Your favourite dish as a child?' },
    ];
    const patched = await api('PATCH', `/organizations/${slug}/settings`, { questions: { catalogue, required_answers: 4, asked: 3 } });
    expect(patched.status).toBe(200);
    expect(patched.body.questions).toEqual({ catalogue, required_answers: 4, asked: 3 });
    for (const bad of [
      { catalogue: [{ id: 'Bad Id!', text: 'A question?' }] },
      { catalogue: [] },
      { catalogue: [catalogue[0], catalogue[0]] },
      { asked: 0 },
      { required_answers: 11 },
      { catalogue: [{ id: 'x', text: 'A question?', answer: 'leak' }] },
    ]) {
      expectJsonError(await api('PATCH', `/organizations/${slug}/settings`, { questions: bad }), 400, 'invalid_request', 'questions');
    }

    const user = await newUser(idp.url, 'q-org-user', { organization: slug });
    const set = (accountId: string, body: unknown) => idp.container.factors.get('questions')!.selfService!.set!(accountId, body);
    // The global default questions are not this organisation's.
    await expect(set(user.id, setBody)).rejects.toMatchObject({ error: 'invalid_request' });
    const mine = new Map(catalogue.map((q, i) => [q.text, `org answer ${i}`]));
    await set(user.id, { answers: catalogue.map((q) => ({ question_id: q.id, answer: mine.get(q.text)! })) });
    const { flow, login } = await passwordStep(config, user.username, PASSWORD);
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['questions'] });
    const shown = (await flow.post('mfa/questions/begin')).body as Shown;
    expect(shown.questions).toHaveLength(3);
    const ok = await flow.post('mfa/questions', { answers: shown.questions.map((q) => ({ identifier: q.identifier, answer: mine.get(q.question)! })) });
    expect(ok.status).toBe(200);

    // A question withdrawn from the catalogue cannot be asked: with too few left, the user sets answers again.
    await api('PATCH', `/organizations/${slug}/settings`, { questions: { catalogue: catalogue.slice(0, 2), required_answers: 2, asked: 2 } });
    await new Promise((r) => setTimeout(r, 1100)); // the settings cache
    const again = await passwordStep(config, user.username, PASSWORD);
    const two = (await again.flow.post('mfa/questions/begin')).body as Shown;
    expect(two.questions.map((q) => q.question).sort()).toEqual([catalogue[0]!.text, catalogue[1]!.text].sort());
    const fresh = [catalogue[0]!, { id: 'pet', text: 'Your first pet?' }, { id: 'car', text: 'Your first car?' }];
    await api('PATCH', `/organizations/${slug}/settings`, { questions: { catalogue: fresh, required_answers: 3, asked: 2 } });
    await new Promise((r) => setTimeout(r, 1100));
    expectJsonError(await again.flow.post('mfa/questions/begin'), 400, 'invalid_request');
  });
});

describe('administration', () => {
  test('an admin reads which questions a user set (never an answer) and resets them through the factor reset; an unknown user is a 404', async () => {
    const user = await withAnswers('admin');
    const seen = await api('GET', `/users/${user.id}/questions`);
    expect(seen.body).toMatchObject({ set: true, questions: expect.arrayContaining([{ id: Q2.id, text: Q2.text }]) });
    expect(seen.text.toLowerCase()).not.toMatch(/rex|baker|exup|argon/);
    expect((await api('GET', `/users/00000000-0000-4000-8000-000000000000/questions`)).status).toBe(404);
    const reset = await api('POST', `/users/${user.id}/factors/reset`, { method: 'questions' });
    expect(reset.status).toBe(200);
    expect(reset.body.removed).toEqual(['questions']);
    expect((await api('GET', `/users/${user.id}/questions`)).body.set).toBe(false);
    expect(await idp.container.factors.enrolledMethods(user.id)).not.toContain('questions');
  });
});

describe('the challenge', () => {
  test('begin asks `asked` of the answered questions under identifiers of this challenge (never the question ids); the same questions until answered right, then another random draw', async () => {
    const user = await withAnswers('subset');
    const questionsOf = (shown: Shown) =>
      shown.questions
        .map((q) => q.question)
        .sort()
        .join('|');
    const flow = await atChallenge(user.username);
    const identifiers = new Set<string>();
    const first = await flow.begin();
    for (let i = 0; i < 5; i++) {
      const shown = await flow.begin();
      expect(shown.questions).toHaveLength(2);
      for (const q of shown.questions) {
        expect(q.identifier).toMatch(/^[A-Za-z0-9_-]{16}$/);
        expect([Q1.id, Q2.id, Q3.id]).not.toContain(q.identifier);
        expect(CHOSEN.has(q.question)).toBe(true);
        identifiers.add(q.identifier);
      }
      // Beginning again, or in another login, or after a wrong answer, never shows other questions.
      expect(questionsOf(shown)).toBe(questionsOf(first));
    }
    expect(identifiers.size).toBe(10);
    expectJsonError(await flow.answer(answering(await flow.begin(), () => 'wrong answer')), 401, 'invalid_code');
    const other = await atChallenge(user.username);
    expect(questionsOf(await other.begin())).toBe(questionsOf(first));
    // Each right answer lets the next challenge draw again, with crypto.randomInt: over logins the subsets vary.
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const login = await atChallenge(user.username);
      const shown = await login.begin();
      seen.add(questionsOf(shown));
      expect((await login.answer(answering(shown))).status).toBe(200);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  test('answers spelt differently (case, spaces, punctuation, Unicode forms) are accepted: the login ends at aal1 with kba, never mfa', async () => {
    const user = await withAnswers('normalise');
    const spellings = [
      (a: string) => a.toUpperCase(),
      (a: string) => `   ${a.replace(/ /g, '    ')}  `,
      (a: string) => `${a.replace(/-/g, '')}!!!`,
      (a: string) => a.normalize('NFD'),
      // Full-width Latin letters are the same text under NFKC.
      (a: string) => [...a].map((c) => (c >= '!' && c <= '~' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join(''),
    ];
    for (const spell of spellings) {
      const flow = await atChallenge(user.username);
      const ok = await flow.answer(answering(await flow.begin(), spell));
      expect(ok.status).toBe(200);
      expect(ok.body.status).toBe('success');
      const { claims } = await flow.complete(ok.body.redirect_to);
      expect(claims.acr).toBe('aal1');
      expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'kba']));
      expect(claims.amr).not.toContain('mfa');
    }
  });

  test('a wrong answer is refused and counts toward the lockout; the challenge is answered once, a right answer after it is refused too', async () => {
    const user = await withAnswers('wrong');
    const flow = await atChallenge(user.username);
    const shown = await flow.begin();
    // One right, one wrong: the whole answer is wrong.
    const half = { answers: [answering(shown).answers[0], { identifier: shown.questions[1]!.identifier, answer: 'not it' }] };
    expectJsonError(await flow.answer(half), 401, 'invalid_code');
    const { mfaFailedAttempts } = await idp.container.db.selectFrom('users').select('mfaFailedAttempts').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(mfaFailedAttempts).toBe(1);
    expectJsonError(await flow.answer(answering(shown)), 400, 'invalid_step');
    // A new challenge is answerable; the right answer clears the count.
    expect((await flow.answer(answering(await flow.begin()))).status).toBe(200);
    const after = await idp.container.db.selectFrom('users').select('mfaFailedAttempts').where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(after.mfaFailedAttempts).toBe(0);
  });

  test('replay: a challenge answered right is not answered again, and its answer fits no later challenge', async () => {
    const user = await withAnswers('replay');
    const flow = await atChallenge(user.username);
    const response = answering(await flow.begin());
    expect((await flow.answer(response)).status).toBe(200);
    const next = await atChallenge(user.username);
    await next.begin();
    expectJsonError(await next.answer(response), 401, 'invalid_code');
  });

  test("identifiers of an earlier challenge of the login, or of another login's, are refused even with the right answers", async () => {
    const user = await withAnswers('identifiers');
    const flow = await atChallenge(user.username);
    const earlier = await flow.begin();
    await flow.begin();
    expectJsonError(await flow.answer(answering(earlier)), 401, 'invalid_code');
    const other = await atChallenge(user.username);
    const othersChallenge = await other.begin();
    await flow.begin();
    expectJsonError(await flow.answer(answering(othersChallenge)), 401, 'invalid_code');
    // Answers that leave one asked question out, or add an unasked one, are wrong.
    const shown = await flow.begin();
    expectJsonError(await flow.answer({ answers: answering(shown).answers.slice(0, 1) }), 401, 'invalid_code');
    const padded = await flow.begin();
    const extra = { identifier: 'AAAAAAAAAAAAAAAA', answer: 'Baker Street' };
    expectJsonError(await flow.answer({ answers: [...answering(padded).answers, extra] }), 401, 'invalid_code');
  });

  test('20 parallel right answers to one challenge: exactly one succeeds', async () => {
    const user = await withAnswers('race');
    const flow = await atChallenge(user.username);
    const response = answering(await flow.begin());
    const results = await Promise.all(Array.from({ length: 20 }, () => flow.answer(response)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.status).toBeGreaterThanOrEqual(400);
  });

  test('hostile answers (huge arrays, non-strings, 10k characters, not a list) answer 4xx, never a 500', async () => {
    const user = await withAnswers('hostile-challenge');
    const flow = await atChallenge(user.username);
    const bodies: unknown[] = [
      { answers: Array.from({ length: 300 }, () => ({ identifier: 'AAAAAAAAAAAAAAAA', answer: 'x' })) },
      { answers: [{ identifier: 'AAAAAAAAAAAAAAAA', answer: 7 }] },
      { answers: [{ identifier: { $gt: '' }, answer: 'rex' }] },
      { answers: [{ identifier: 'AAAAAAAAAAAAAAAA', answer: 'x'.repeat(10_000) }] },
      { answers: 'rex' },
      { answers: {} },
      { code: 'rex' },
    ];
    for (const body of bodies) {
      await flow.begin();
      const r = await flow.answer(body);
      expect(r.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      if (body && typeof body === 'object' && 'answers' in body && typeof body.answers !== 'string') expect(r.status).toBe(400);
      if (r.status === 429) break;
    }
  });

  test('a browser without script: the button starts the challenge, the page shows the questions, the form answers them', async () => {
    const user = await withAnswers('nojs');
    const flow = await atChallenge(user.username);
    const csrfOf = (html: string) => /<input type="hidden" name="csrf" value="([^"]+)">/.exec(html)![1]!;
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(fields),
    });
    const page = await (await flow.browser.fetch(flow.interactionUrl!, { headers: { accept: 'text/html' } })).text();
    const base = flow.interactionUrl!.pathname;
    expect(page).toContain(`formaction="${base}/mfa/questions/begin"`);
    expect(page).toContain('Answer security questions');
    const unescape = (s: string) =>
      s
        .replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&');
    const shown = (posted: Response) => pageAfterPost(flow, posted);
    /** Starts the challenge from a page's form and answers what it shows with `answer`. */
    async function answerFrom(from: string, answer: (question: string) => string) {
      const html = await shown(await flow.browser.fetch(`${flow.interactionUrl!.href}/mfa/questions/begin`, form({ csrf: csrfOf(from) })));
      expect(html).toContain(`action="${base}/mfa/questions"`);
      const fields = [...html.matchAll(/name="answers\[(\d)\]\[identifier\]" value="([^"]+)">\s*<label for="answer-\d">([^<]+)<\/label>/g)];
      expect(fields).toHaveLength(2);
      const body: Record<string, string> = { csrf: csrfOf(html) };
      for (const [, i, identifier, question] of fields) {
        body[`answers[${i}][identifier]`] = identifier!;
        body[`answers[${i}][answer]`] = answer(unescape(question!));
      }
      return flow.browser.fetch(`${flow.interactionUrl!.href}/mfa/questions`, form(body));
    }
    // A wrong answer: the page again, saying what was refused in words about answers (not codes or passkeys).
    const refused = await shown(await answerFrom(page, () => 'not the answer'));
    expect(refused).toContain('<p class="error" role="alert">Those answers were not accepted. Try again.</p>');
    const done = await answerFrom(refused, (question) => CHOSEN.get(question)!);
    expect(done.status).toBe(303);
    // The finished sign-in goes on to the app, not back to the step page.
    expect(new URL(done.headers.get('location')!, flow.interactionUrl).pathname).not.toBe(flow.interactionUrl!.pathname);
  });
});

describe('assurance', () => {
  test('acr_values=aal2: questions are not offered beside TOTP, cannot be started or answered, and alone they do not make aal2', async () => {
    const user = await withAnswers('aal2');
    await awayFromStepBoundary();
    const secret = await enrolTotp(idp.container, user.id);
    const { flow, login } = await passwordStep(config, user.username, PASSWORD, { params: { acr_values: 'aal2' } });
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    expectJsonError(await flow.post('mfa/questions/begin'), 400, 'invalid_method');
    expectJsonError(await flow.post('mfa/questions', { answers: [{ identifier: 'AAAAAAAAAAAAAAAA', answer: 'Rex the Dog' }] }), 400, 'invalid_method');
    const ok = await flow.post('mfa/totp', { code: await totpCode(secret) });
    expect(ok.status).toBe(200);
    expect((await flow.complete(ok.body.redirect_to)).claims.acr).toBe('aal2');

    // With only questions, an aal2 request asks for a factor that reaches it instead.
    const weakOnly = await withAnswers('aal2-weak');
    const weak = await passwordStep(config, weakOnly.username, PASSWORD, { params: { acr_values: 'aal2' } });
    expect(weak.login.body.status).not.toBe('mfa_required');
    expect(weak.login.body.methods ?? weak.login.body.allowed_methods ?? []).not.toContain('questions');
  });

  test('a policy that allows only questions is met by them, at aal1; without answers the login cannot go on', async () => {
    const user = await withAnswers('only');
    const flow = await atChallenge(user.username, questionsOnly);
    const ok = await flow.answer(answering(await flow.begin()));
    expect(ok.status).toBe(200);
    const { claims } = await flow.complete(ok.body.redirect_to);
    expect(claims.acr).toBe('aal1');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'kba']));
    const none = await newUser(idp.url, 'q-only-none');
    const { login } = await passwordStep(questionsOnly, none.username, PASSWORD);
    expect(login.body.status).not.toBe('success');
  });

  test('through the MFA service (as other parts drive it): startChallenge shows the questions, verify takes {answers}', async () => {
    const user = await withAnswers('service');
    const flow = await atChallenge(user.username);
    const uid = flow.interactionUrl!.pathname.split('/')[2]!;
    const shown = (await idp.container.mfa.startChallenge({ uid, method: 'questions' })) as unknown as Shown;
    await expect(idp.container.mfa.verify({ uid, method: 'questions', code: answering(shown, () => 'wrong answer'), ip: '127.0.0.1' })).rejects.toMatchObject({
      error: 'invalid_code',
    });
    const again = (await idp.container.mfa.startChallenge({ uid, method: 'questions' })) as unknown as Shown;
    const outcome = await idp.container.mfa.verify({ uid, method: 'questions', code: answering(again), ip: '127.0.0.1' });
    expect(outcome.kind).toBe('finish');
  });
});
