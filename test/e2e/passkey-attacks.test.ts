/**
 * Forged and replayed WebAuthn responses against the real IdP (WebAuthn Level 3 §7.1, §7.2,
 * §13.4): each is refused with a JSON error, stores nothing, moves no counter and makes no
 * session. The relying party is openid-client; the authenticator is the software one, whose every
 * field can be forged.
 */
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { expectJsonError } from '../helpers/api.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import {
  appendBytes,
  padClientData,
  SoftAuthenticator,
  truncate,
  type AssertionKnobs,
  type RegistrationKnobs,
  type SoftAuthenticatorOptions,
} from '../helpers/soft-authenticator.js';

let idp: TestIdp;
let config: oc.Configuration;
const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
/** A further origin of the same RP ID (WebAuthn Level 3 §13.4.9), to try its http:// variant. */
const EXTRA_ORIGIN = 'https://sso.localhost';

beforeAll(async () => {
  idp = await startTestIdp(
    'passkey-attacks',
    'postgres+redis',
    { mfa: { attemptsPerChallenge: 10, recentAuthSeconds: 300 }, rateLimit: { loginPerIpPerMinute: 10_000 }, webauthn: { extraOrigins: [EXTRA_ORIGIN] } },
    { clock },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});
beforeEach(() => {
  clock.offsetMs = 0;
});

const origin = () => new URL(idp.url).origin;
const port = () => new URL(idp.url).port;
const soft = (opts: Partial<SoftAuthenticatorOptions> = {}) => new SoftAuthenticator({ origin: origin(), ...opts });

// ---------------------------------------------------------------- what the IdP stored

const db = () => idp.container.db;
const audits = (subject: string, type: string) =>
  db().selectFrom('auditEvents').select('data').where('subject', '=', subject).where('type', '=', type).execute();
/** Sign-ins with a passkey (the password sign-in that set the passkey up is not one). */
const passkeySignIns = async (subject: string) =>
  (await audits(subject, 'authn.login.succeeded')).filter(({ data }) => (data as { amr?: string[] }).amr?.some((m) => m === 'hwk' || m === 'swk'));
const storedKeys = (userId: string) =>
  db()
    .selectFrom('webauthnCredentials as w')
    .innerJoin('credentials as c', 'c.id', 'w.id')
    .select(['w.credentialId', 'w.signCount', 'w.publicKey'])
    .where('c.userId', '=', userId)
    .execute();
const setSignCount = (credentialId: string, signCount: number) =>
  db().updateTable('webauthnCredentials').set({ signCount }).where('credentialId', '=', credentialId).execute();
const signCountOf = async (credentialId: string) =>
  Number((await db().selectFrom('webauthnCredentials').select('signCount').where('credentialId', '=', credentialId).executeTakeFirstOrThrow()).signCount);

/** No session: a silent authorization request in this browser is answered login_required. */
async function expectNoSession(browser: Browser) {
  const silent = await beginAuth(config, { browser, params: { prompt: 'none' } });
  expect(silent.landed.searchParams.get('error')).toBe('login_required');
}

/** A refused login: the error, no sign-in recorded, the counter where it was, no session. */
async function expectLoginRefused(
  answer: { status: number; body: any; res: Response },
  flow: Flow,
  user: { id: string },
  credentialId: string,
  countBefore: number,
  status = 401,
  error = 'invalid_code',
) {
  expectJsonError(answer, status, error);
  expect(await passkeySignIns(user.id)).toHaveLength(0);
  expect(await signCountOf(credentialId)).toBe(countBefore);
  await expectNoSession(flow.browser);
}

// ---------------------------------------------------------------- self-service registration

async function call(browser: Browser, method: string, path: string, body?: unknown) {
  const res = await browser.fetch(`${idp.url}/api/v1${path}`, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, res };
}

/** Password sign-in of a user with no factor: the browser holds a fresh session for self-service. */
async function passwordSession(username: string) {
  const flow = await beginAuth(config);
  const login = await flow.post('login', { username, password: PASSWORD });
  expect(login.body.status).toBe('success');
  await flow.complete(login.body.redirect_to);
  return flow.browser;
}

const registerBegin = async (browser: Browser) => {
  const options = await call(browser, 'POST', '/mfa/passkey/register/begin', {});
  expect(options.status).toBe(200);
  return options.body;
};
const registerFinish = (browser: Browser, credential: unknown) => call(browser, 'POST', '/mfa/passkey/register/finish', { credential });

/** A registration attempt with forged knobs by a new user: `check` judges the answer, then the user must still have no passkey nor an enrolment audit. */
async function forgedRegistration(label: string, knobs: RegistrationKnobs, check: (answer: Awaited<ReturnType<typeof call>>) => void) {
  const user = await newUser(idp.url, label);
  const browser = await passwordSession(user.username);
  check(await registerFinish(browser, await soft().create(await registerBegin(browser), knobs)));
  expect(await storedKeys(user.id)).toEqual([]);
  expect(await audits(user.id, 'authn.factor.enrolled')).toHaveLength(0);
}
const refusedWith = (status: number, error?: string) => (answer: Awaited<ReturnType<typeof call>>) => expectJsonError(answer, status, error);
const refused4xx = (answer: Awaited<ReturnType<typeof call>>) => {
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
};

/** A user with one registered passkey (registered honestly through self-service). */
async function userWithPasskey(label: string, opts: Partial<SoftAuthenticatorOptions> = {}) {
  const user = await newUser(idp.url, label);
  const browser = await passwordSession(user.username);
  const authenticator = soft(opts);
  const finish = await registerFinish(browser, await authenticator.create(await registerBegin(browser)));
  expect(finish.status).toBe(201);
  return { user, authenticator, credentialId: authenticator.credentials[0]!.id, browser };
}

// ---------------------------------------------------------------- logins

/** A second-factor login up to the request options. */
async function secondFactor(username: string) {
  const flow = await beginAuth(config);
  const login = await flow.post('login', { username, password: PASSWORD });
  expect(login.body).toMatchObject({ status: 'mfa_required', methods: expect.arrayContaining(['passkey']) });
  const options = await flow.post('mfa/passkey/begin');
  expect(options.status).toBe(200);
  return { flow, options: options.body };
}

/** A passwordless login up to the request options. */
async function passwordless() {
  const flow = await beginAuth(config);
  const options = await flow.post('passkey/begin');
  expect(options.status).toBe(200);
  return { flow, options: options.body };
}

/** One forged second-factor answer by the user's own authenticator: refused, nothing moved. */
async function forgedSecondFactor(label: string, knobs: AssertionKnobs, opts: Partial<SoftAuthenticatorOptions> = {}) {
  const { user, authenticator, credentialId } = await userWithPasskey(label, opts);
  const { flow, options } = await secondFactor(user.username);
  const answer = await flow.post('mfa/passkey/finish', { credential: await authenticator.get(options, knobs) });
  await expectLoginRefused(answer, flow, user, credentialId, 0);
}

/** One forged passwordless answer: refused, nothing moved. */
async function forgedPasswordless(label: string, knobs: AssertionKnobs, opts: Partial<SoftAuthenticatorOptions> = {}) {
  const { user, authenticator, credentialId } = await userWithPasskey(label, opts);
  const { flow, options } = await passwordless();
  const answer = await flow.post('passkey/finish', { credential: await authenticator.get(options, knobs) });
  await expectLoginRefused(answer, flow, user, credentialId, 0);
}

describe('challenges', () => {
  test('a challenge issued to another login is refused', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-foreign');
    const victim = await secondFactor(user.username);
    const attacker = await secondFactor(user.username);
    // Signed over the victim's challenge, presented in the attacker's login.
    const answer = await attacker.flow.post('mfa/passkey/finish', { credential: await authenticator.get(victim.options) });
    await expectLoginRefused(answer, attacker.flow, user, credentialId, 0);
  });

  test('an expired challenge is refused', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-expired');
    const { flow, options } = await secondFactor(user.username);
    const credential = await authenticator.get(options);
    clock.offsetMs = 301_000;
    await expectLoginRefused(await flow.post('mfa/passkey/finish', { credential }), flow, user, credentialId, 0);
  });

  test('a challenge is answered once: after a wrong answer, a right one to the same challenge is refused', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-reused');
    const { flow, options } = await secondFactor(user.username);
    expectJsonError(
      await flow.post('mfa/passkey/finish', { credential: await authenticator.get(options, { origin: 'https://evil.example' }) }),
      401,
      'invalid_code',
    );
    const again = await flow.post('mfa/passkey/finish', { credential: await authenticator.get(options) });
    await expectLoginRefused(again, flow, user, credentialId, 0, 400, 'invalid_step');
  });

  test('a successful passwordless response replayed in a new login is refused', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-replayed');
    const first = await passwordless();
    const done = await first.flow.post('passkey/finish', { credential: await authenticator.get(first.options) });
    expect(done.body.status).toBe('success');
    const second = await passwordless();
    const answer = await second.flow.post('passkey/finish', { credential: authenticator.replay() });
    expectJsonError(answer, 401, 'invalid_code');
    expect(await signCountOf(credentialId)).toBe(1);
    expect(await passkeySignIns(user.id)).toHaveLength(1);
    await expectNoSession(second.flow.browser);
  });

  test('a never-issued challenge is refused, and so is a finish without any begin', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-never');
    const { flow, options } = await secondFactor(user.username);
    const made = await authenticator.get(options, { challenge: isoBase64URL.fromBuffer(new Uint8Array(32).fill(1)) });
    await expectLoginRefused(await flow.post('mfa/passkey/finish', { credential: made }), flow, user, credentialId, 0);

    const fresh = await beginAuth(config);
    const login = await fresh.post('login', { username: user.username, password: PASSWORD });
    expect(login.body.status).toBe('mfa_required');
    const unasked = await fresh.post('mfa/passkey/finish', { credential: await authenticator.get({ ...options, challenge: 'AAAA' }) });
    await expectLoginRefused(unasked, fresh, user, credentialId, 0, 400, 'invalid_step');
    const passwordlessUnasked = await beginAuth(config);
    expectJsonError(await passwordlessUnasked.post('passkey/finish', { credential: authenticator.replay() }), 400, 'invalid_step');
  });

  test('two finishes racing on one challenge: exactly one signs in', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-race');
    const { flow, options } = await secondFactor(user.username);
    const credential = await authenticator.get(options);
    const answers = await Promise.all([flow.post('mfa/passkey/finish', { credential }), flow.post('mfa/passkey/finish', { credential })]);
    expect(answers.filter((a) => a.status === 200 && a.body.status === 'success')).toHaveLength(1);
    const loser = answers.find((a) => a.status !== 200)!;
    expect(loser.status).toBeGreaterThanOrEqual(400);
    expect(loser.status).toBeLessThan(500);
    expect(loser.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    expect(await signCountOf(credentialId)).toBe(1);
    expect(await passkeySignIns(user.id)).toHaveLength(1);
  });
});

describe('client data and authenticator data', () => {
  test('the origin of an evil site', () => forgedSecondFactor('pk-evil', { origin: 'https://evil.example' }));
  test('the https:// variant of the http:// issuer origin', () => forgedSecondFactor('pk-https', { origin: origin().replace('http:', 'https:') }));
  test('the http:// variant of a configured https:// origin', () => forgedSecondFactor('pk-http', { origin: EXTRA_ORIGIN.replace('https:', 'http:') }));
  test('an unlisted subdomain of the RP ID', () => forgedSecondFactor('pk-subdomain', { origin: `http://evil.localhost:${port()}` }));
  test('crossOrigin=true (an assertion made inside a cross-origin iframe)', () => forgedSecondFactor('pk-xorigin', { crossOrigin: true }));
  test('the rpIdHash of another RP ID', () => forgedSecondFactor('pk-rpid', { rpId: 'evil.example' }));
  test('a webauthn.create client data presented at sign-in', () => forgedSecondFactor('pk-type-get', { type: 'webauthn.create' }));
  test('UP=0', () => forgedSecondFactor('pk-up', { flags: { up: false } }));
  test('UV=0 for a passwordless sign-in', () => forgedPasswordless('pk-uv', { flags: { uv: false } }));
  test('BS=1 with BE=0', () => forgedSecondFactor('pk-bs', { flags: { be: false, bs: true } }));
  test('truncated authenticator data', () => forgedSecondFactor('pk-trunc-get', { mutate: { authenticatorData: truncate(30) } }));
  test('trailing bytes after the authenticator data', () => forgedSecondFactor('pk-trail-get', { mutate: { authenticatorData: appendBytes() } }));

  test('a 1 MB assertion is refused with a 4xx', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-big-get');
    const { flow, options } = await passwordless();
    const answer = await flow.post('passkey/finish', { credential: await authenticator.get(options, { mutate: { clientData: padClientData() } }) });
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    expect(await signCountOf(credentialId)).toBe(0);
    expect(await passkeySignIns(user.id)).toHaveLength(0);
    await expectNoSession(flow.browser);
  });
});

describe('whose credential', () => {
  test("during A's second-factor login, an assertion by B's valid credential is refused", async () => {
    const a = await userWithPasskey('pk-owner-a');
    const b = await userWithPasskey('pk-owner-b');
    const { flow, options } = await secondFactor(a.user.username);
    const answer = await flow.post('mfa/passkey/finish', { credential: await b.authenticator.get(options, { credentialId: b.credentialId }) });
    await expectLoginRefused(answer, flow, a.user, a.credentialId, 0);
    expect(await signCountOf(b.credentialId)).toBe(0);
    expect(await passkeySignIns(b.user.id)).toHaveLength(0);
  });

  test("passwordless: B's credential with A's user handle is refused", async () => {
    const a = await userWithPasskey('pk-handle-a');
    const b = await userWithPasskey('pk-handle-b');
    const { flow, options } = await passwordless();
    const answer = await flow.post('passkey/finish', {
      credential: await b.authenticator.get(options, { userHandle: a.authenticator.credentials[0]!.userHandle }),
    });
    await expectLoginRefused(answer, flow, b.user, b.credentialId, 0);
    expect(await passkeySignIns(a.user.id)).toHaveLength(0);
  });

  test("passwordless: A's signature reported under B's credential id (with B's user handle) is refused", async () => {
    const a = await userWithPasskey('pk-swap-a');
    const b = await userWithPasskey('pk-swap-b');
    const { flow, options } = await passwordless();
    const credential = await a.authenticator.get(options, { reportedId: b.credentialId, userHandle: b.authenticator.credentials[0]!.userHandle });
    await expectLoginRefused(await flow.post('passkey/finish', { credential }), flow, b.user, b.credentialId, 0);
    expect(await signCountOf(a.credentialId)).toBe(0);
  });

  test('passwordless: an assertion without a user handle is refused', () => forgedPasswordless('pk-nohandle', { userHandle: null }));
});

describe('sign counters', () => {
  test.each([10, 5])('stored 10, presented %i: refused and audited as a suspected clone', async (presented) => {
    const { user, authenticator, credentialId } = await userWithPasskey(`pk-clone-${presented}`);
    await setSignCount(credentialId, 10);
    const { flow, options } = await secondFactor(user.username);
    const answer = await flow.post('mfa/passkey/finish', { credential: await authenticator.get(options, { counter: presented }) });
    await expectLoginRefused(answer, flow, user, credentialId, 10);
    expect(await audits(user.id, 'authn.passkey.clone_suspected')).toHaveLength(1);
  });

  test('both zero (an authenticator without a counter): allowed, and no clone is suspected', async () => {
    const { user, authenticator, credentialId } = await userWithPasskey('pk-zero');
    const { flow, options } = await secondFactor(user.username);
    const done = await flow.post('mfa/passkey/finish', { credential: await authenticator.get(options, { counter: 0 }) });
    expect(done.body.status).toBe('success');
    await flow.complete(done.body.redirect_to);
    expect(await signCountOf(credentialId)).toBe(0);
    expect(await audits(user.id, 'authn.passkey.clone_suspected')).toHaveLength(0);
  });
});

describe('registration', () => {
  test('a credential id already registered to another user is refused; the owner keeps it', async () => {
    const owner = await userWithPasskey('pk-dup-owner');
    const [before] = await storedKeys(owner.user.id);
    await forgedRegistration('pk-dup-thief', { credentialId: isoBase64URL.toBuffer(owner.credentialId) }, refusedWith(400, 'invalid_request'));
    expect(await storedKeys(owner.user.id)).toEqual([before]);
    const { flow, options } = await secondFactor(owner.user.username);
    expect((await flow.post('mfa/passkey/finish', { credential: await owner.authenticator.get(options) })).body.status).toBe('success');
  });

  test('a credential id longer than 1023 bytes is refused (WebAuthn Level 3 §7.1 step 19); 1023 bytes is registered', async () => {
    await forgedRegistration('pk-longid', { credentialIdLength: 1024 }, refusedWith(400, 'invalid_request'));
    await forgedRegistration('pk-longid', { credentialIdLength: 1100 }, refusedWith(400, 'invalid_request'));
    const user = await newUser(idp.url, 'pk-longid-ok');
    const browser = await passwordSession(user.username);
    expect((await registerFinish(browser, await soft().create(await registerBegin(browser), { credentialIdLength: 1023 }))).status).toBe(201);
  });

  test('a registration response replayed, in the same session and in another one, adds nothing', async () => {
    const user = await newUser(idp.url, 'pk-reg-replay');
    const browser = await passwordSession(user.username);
    const other = await passwordSession(user.username);
    const authenticator = soft();
    const credential = await authenticator.create(await registerBegin(browser));
    // The other session has options of its own: the response answers a challenge it was not given.
    await registerBegin(other);
    expectJsonError(await registerFinish(other, credential), 401, 'invalid_code');
    expect((await registerFinish(browser, authenticator.replay())).status).toBe(201);
    expectJsonError(await registerFinish(browser, authenticator.replay()), 400, 'invalid_request');
    // The registration ended the user's other sessions: the other one can replay nothing either.
    expectJsonError(await registerFinish(other, authenticator.replay()), 401);
    expect(await storedKeys(user.id)).toHaveLength(1);
    expect(await audits(user.id, 'authn.factor.enrolled')).toHaveLength(1);
  });

  test('a webauthn.get client data presented at registration', async () => {
    await forgedRegistration('pk-type-create', { type: 'webauthn.get' }, refusedWith(401, 'invalid_code'));
  });
  test('an evil origin at registration', async () => {
    await forgedRegistration('pk-reg-origin', { origin: 'https://evil.example' }, refusedWith(401, 'invalid_code'));
  });
  test('crossOrigin=true at registration', async () => {
    await forgedRegistration('pk-reg-xorigin', { crossOrigin: true }, refusedWith(401, 'invalid_code'));
  });

  test.each<[string, RegistrationKnobs]>([
    ['a truncated attestation object', { mutate: { attestationObject: truncate(-40) } }],
    ['an attestation object cut to 3 bytes', { mutate: { attestationObject: truncate(3) } }],
    ['trailing bytes after the authenticator data', { mutate: { authenticatorData: appendBytes() } }],
    ['trailing bytes after the attestation object', { mutate: { attestationObject: appendBytes() } }],
    // CBOR crafted to exhaust the decoder: a map claiming 2^64 - 1 entries, and arrays nested 10,000 deep.
    ['an attestation object whose map claims 2^64 - 1 entries', { mutate: { attestationObject: () => Uint8Array.from([0xbb, ...Array(8).fill(0xff)]) } }],
    ['an attestation object of arrays nested 10,000 deep', { mutate: { attestationObject: () => new Uint8Array(10_000).fill(0x81) } }],
    ['a COSE alg the server does not accept', { coseAlg: -65535 }],
    ['UP=0', { flags: { up: false } }],
    ['BS=1 with BE=0', { flags: { be: false, bs: true } }],
  ])('%s: a 4xx JSON error, nothing stored', (_, knobs) => forgedRegistration('pk-malformed', knobs, refused4xx));

  test('a 1 MB registration response: 413, nothing stored', async () => {
    await forgedRegistration('pk-big-reg', { mutate: { clientData: padClientData() } }, refusedWith(413));
  });
});

test('a passwordless sign-in neither lifts nor resets a password lockout', async () => {
  const { user, authenticator } = await userWithPasskey('pk-lockout');
  for (let i = 0; i < 5; i++) {
    const flow = await beginAuth(config);
    expect((await flow.post('login', { username: user.username, password: 'wrong password' })).status).toBe(401);
  }
  const lockedBefore = await db().selectFrom('users').select(['failedAttempts', 'lockedUntil']).where('id', '=', user.id).executeTakeFirstOrThrow();
  expect(lockedBefore.failedAttempts).toBe(5);
  expect(lockedBefore.lockedUntil!.getTime()).toBeGreaterThan(Date.now());

  const { flow, options } = await passwordless();
  const done = await flow.post('passkey/finish', { credential: await authenticator.get(options) });
  expect(done.body.status).toBe('success');
  await flow.complete(done.body.redirect_to);

  const after = await db().selectFrom('users').select(['failedAttempts', 'lockedUntil']).where('id', '=', user.id).executeTakeFirstOrThrow();
  expect(after).toEqual(lockedBefore);
  // The right password is still refused while the lock lasts.
  const retry = await beginAuth(config);
  const login = await retry.post('login', { username: user.username, password: PASSWORD });
  expect(login.status).toBeGreaterThanOrEqual(400);
  expect(login.body.status).toBeUndefined();
});
