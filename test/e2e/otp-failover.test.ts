/**
 * A login's SMS or voice code through the real server and Twilio-compatible provider peers in this
 * process, when the first provider may have delivered the message (it answered 500, or hung past
 * the delivery timeout): the next provider gets a new code, the earlier one no longer answers, and
 * no phone ever receives the same code twice. With every provider uncertain the send fails (503)
 * and no code is left to answer; a clean refusal (4xx) fails over with the same code.
 */
import { createLogger } from '../../src/lib/logger.js';
import { apiClient } from '../helpers/api.js';
import { logSink, startTwilioPeer, type Behaviour } from '../helpers/delivery-peers.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, PASSWORD, newUser, passwordStep, type Flow } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';

const SID = `AC${'b2'.repeat(16)}`;
const TOKEN = 'twilio-auth-token-failover-0123456789';
const TIMEOUT_MS = 300;

const clock = new FakeClock();

let idp: TestIdp;
let config: oc.Configuration;
const log = logSink();
const api = apiClient(() => idp.url);
const closers: (() => Promise<void>)[] = [];
/** Every code that may have reached a phone (sent to a provider that did not refuse it cleanly), across the file. */
const reached: { to: string; code: string }[] = [];
/** Numbers and codes the tests saw: none may appear in a log line. */
const secrets = new Set<string>([TOKEN]);

beforeAll(async () => {
  idp = await startTestIdp(
    'otp-failover',
    'postgres+redis',
    { logLevel: 'debug', delivery: { timeoutMs: TIMEOUT_MS }, rateLimit: { loginPerIpPerMinute: 10_000 }, mfa: { attemptsPerChallenge: 50 } },
    { clock, logger: createLogger('debug', log.sink) },
  );
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await idp.container.settings.patchGlobal({
    mfa: { policy: 'any', allowed_methods: ['totp', 'sms', 'voice'] },
    lockout: { mfa_max_failures: 100 },
    otp: { sends_per_account_per_hour: 1000, sends_per_destination_per_10_minutes: 1000, sends_per_ip_per_10_minutes: 100_000 },
  });
});
afterEach(() => clock.reset());
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await idp.stop();
});

let seq = 0;

/** A peer per behaviour (changeable later), registered for the organisation in the order given (first is tried first). */
async function providers(org: string, behaviours: Behaviour[]) {
  const peers = [];
  for (const [i, initial] of behaviours.entries()) {
    const state = { behaviour: initial, answered: [] as Behaviour[] };
    const peer = await startTwilioPeer(() => {
      state.answered.push(state.behaviour);
      return state.behaviour;
    });
    closers.push(peer.close);
    const r = await api('POST', '/delivery-providers', {
      type: 'twilio',
      name: `provider-${String.fromCharCode(65 + i)}`,
      channels: ['sms', 'voice'],
      priority: i + 1,
      organization: org,
      config: { account_sid: SID, auth_token: TOKEN, from: '+15005550006', base_url: peer.url },
    });
    expect(r.status).toBe(201);
    peers.push(Object.assign(state, { peer }));
  }
  return peers;
}

type Peers = Awaited<ReturnType<typeof providers>>;

/** A user of a new organisation with one verified phone, whose login waits at the challenge, and that organisation's providers. */
async function loginAt(behaviours: Behaviour[]) {
  const n = ++seq;
  const slug = `otp-fo-${process.pid}-${n}`;
  const org = await api('POST', '/organizations', { slug });
  expect(org.status).toBe(201);
  const peers = await providers(org.body.organization.id as string, behaviours);
  const phone = `+1650253${String(2000 + n)}`;
  secrets.add(phone);
  const user = await newUser(idp.url, 'otp-fo', { organization: slug, phone, phone_verified: true });
  const { flow, login } = await passwordStep(config, user.username, PASSWORD);
  expect(login.body.status).toBe('mfa_required');
  const destination = (login.body.destinations as { id: string; channel: string }[])[0]!.id;
  return { user, phone, flow, destination, peers };
}

const sayings = (twiml: string) => [...twiml.matchAll(/<Say language="[^"]+">([^<]*)<\/Say>/g)].map((m) => m[1]!);

/** The (number, code) each peer received, in order; those a peer did not refuse cleanly count as possibly delivered. */
function received(peers: Peers) {
  return peers.map(({ peer, answered }) =>
    peer.forms().map(({ path, form }, i) => {
      const code = path.endsWith('/Calls.json')
        ? sayings(form.Twiml ?? '')
            .filter((t) => /^\d$/.test(t))
            .join('')
            .slice(0, 6)
        : (/^(\d{6}) is your/.exec(form.Body ?? '')?.[1] ?? '');
      expect(code).toMatch(/^\d{6}$/);
      secrets.add(code);
      if (answered[i] !== 'refuse400') reached.push({ to: form.To!, code });
      return { to: form.To, code, path };
    }),
  );
}

const send = (flow: Flow, channel: 'sms' | 'voice', destination: string) => flow.post('mfa/otp/send', { channel, destination_id: destination });
const answer = (flow: Flow, code: string) => flow.post('mfa/otp/verify', { code });

const records = (userId: string) =>
  idp.container.db.selectFrom('deliveries').select(['provider', 'status', 'destinationId']).where('accountId', '=', userId).orderBy('createdAt').execute();

async function refused(flow: Flow, code: string) {
  const r = await answer(flow, code);
  expect(r.status).toBe(401);
  expect(r.body.error).toBe('invalid_code');
}

describe('a login whose first provider may have sent the code', () => {
  test.each([
    ['answers 500', 'error500', 'failed'],
    ['hangs past the timeout', 'hang', 'timeout'],
  ] as const)('provider A %s: B sends a new code; the first is refused, the new one signs in with sms + otp', async (_, behaviour, status) => {
    const { user, phone, flow, destination, peers } = await loginAt([behaviour, 'accept']);

    const started = Date.now();
    const sent = await send(flow, 'sms', destination);
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ status: 'code_sent', mask: `xxx-xxx-${phone.slice(-4)}` });
    if (behaviour === 'hang') expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);

    const [x, y] = received(peers).map(([r]) => r);
    expect(x).toMatchObject({ to: phone, path: `/2010-04-01/Accounts/${SID}/Messages.json` });
    expect(y).toMatchObject({ to: phone, path: `/2010-04-01/Accounts/${SID}/Messages.json` });
    expect(y!.code).not.toBe(x!.code);
    expect(await records(user.id)).toEqual([
      { provider: 'provider-A', status, destinationId: destination },
      { provider: 'provider-B', status: 'accepted', destinationId: destination },
    ]);
    const audit = await idp.container.db
      .selectFrom('auditEvents')
      .select('data')
      .where('subject', '=', user.id)
      .where('type', '=', 'authn.otp.sent')
      .executeTakeFirstOrThrow();
    expect(audit.data).toMatchObject({ channel: 'sms', provider: 'provider-B', attempt: 1 });

    await refused(flow, x!.code);
    const ok = await answer(flow, y!.code);
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('success');
    const { claims } = await flow.complete(ok.body.redirect_to);
    expect(claims.amr).toEqual(['pwd', 'sms', 'otp', 'mfa']);
    expect(claims.acr).toBe('aal2');
  });

  test('every provider uncertain: 503 delivery_failed, and the last code sent is not left stored', async () => {
    const { user, flow, destination, peers } = await loginAt(['error500', 'hang', 'error500']);

    const sent = await send(flow, 'sms', destination);
    expect(sent.status).toBe(503);
    expect(sent.body.error).toBe('delivery_failed');
    expect(sent.body.error_description).toEqual(expect.any(String));

    const codes = received(peers).map(([r]) => r!.code);
    expect(codes).toHaveLength(3);
    expect(new Set(codes).size).toBe(3);
    expect((await records(user.id)).map((r) => [r.provider, r.status])).toEqual([
      ['provider-A', 'failed'],
      ['provider-B', 'timeout'],
      ['provider-C', 'failed'],
    ]);
    // The login's binding holds none of them, the last (the one a working failover would have kept) included.
    const binding = `login:${flow.interactionUrl!.pathname.split('/').pop()!}`;
    for (const code of codes) await expect(idp.container.oneTimeCodes.check(binding, code)).rejects.toMatchObject({ error: 'invalid_code' });
    const audits = await idp.container.db.selectFrom('auditEvents').select('id').where('subject', '=', user.id).where('type', '=', 'authn.otp.sent').execute();
    expect(audits).toEqual([]);
  });

  test('a resend that fails on every provider leaves neither its codes nor the one sent before usable', async () => {
    const { flow, destination, peers } = await loginAt(['accept', 'accept']);
    expect((await send(flow, 'sms', destination)).status).toBe(200);
    clock.advance(31_000);
    peers[0]!.behaviour = 'hang';
    peers[1]!.behaviour = 'error500';

    const resent = await send(flow, 'sms', destination);
    expect(resent.status).toBe(503);
    expect(resent.body.error).toBe('delivery_failed');

    const [a, b] = received(peers);
    const [first, x] = a!.map((r) => r.code);
    const [y] = b!.map((r) => r.code);
    expect(new Set([first, x, y]).size).toBe(3);
    // The login's otp challenge was started by the first send, so each answer reaches the stored code.
    for (const code of [y!, x!, first!]) await refused(flow, code);
  });

  test('a clean refusal (400) from A proves nothing reached the phone: B sends the same code, which signs in', async () => {
    const { user, flow, destination, peers } = await loginAt(['refuse400', 'accept']);

    expect((await send(flow, 'sms', destination)).status).toBe(200);
    const [x, y] = received(peers).map(([r]) => r);
    expect(y!.code).toBe(x!.code);
    expect((await records(user.id)).map((r) => [r.provider, r.status])).toEqual([
      ['provider-A', 'failed'],
      ['provider-B', 'accepted'],
    ]);
    const ok = await answer(flow, y!.code);
    expect(ok.body.status).toBe('success');
    expect((await flow.complete(ok.body.redirect_to)).claims.amr).toEqual(['pwd', 'sms', 'otp', 'mfa']);
  });

  test('voice: A answers 500, B calls with a new code read digit by digit; it signs in with tel + otp', async () => {
    const { user, phone, flow, destination, peers } = await loginAt(['error500', 'accept']);

    expect((await send(flow, 'voice', destination)).status).toBe(200);
    const [x, y] = received(peers).map(([r]) => r);
    expect(x).toMatchObject({ to: phone, path: `/2010-04-01/Accounts/${SID}/Calls.json` });
    expect(y).toMatchObject({ to: phone, path: `/2010-04-01/Accounts/${SID}/Calls.json` });
    expect(y!.code).not.toBe(x!.code);
    // The call reads the whole code twice.
    const digits = sayings(peers[1]!.peer.forms()[0]!.form.Twiml!)
      .filter((t) => /^\d$/.test(t))
      .join('');
    expect(digits).toBe(`${y!.code}${y!.code}`);
    expect((await records(user.id)).map((r) => r.status)).toEqual(['failed', 'accepted']);

    await refused(flow, x!.code);
    const ok = await answer(flow, y!.code);
    expect(ok.body.status).toBe('success');
    expect((await flow.complete(ok.body.redirect_to)).claims.amr).toEqual(['pwd', 'tel', 'otp', 'mfa']);
  });
});

test('a failed send forgets only its own code: one issued meanwhile by a later send still answers', async () => {
  const codes = idp.container.oneTimeCodes;
  const binding = `login:failover-${process.pid}`;
  const options = { ttlSeconds: 300, destinationId: 'd', channel: 'sms' };
  const earlier = await codes.issue(binding, options);
  const later = await codes.issue(binding, options);
  await codes.discardIfStill(binding, earlier);
  expect(await codes.check(binding, later)).toEqual({ destinationId: 'd', channel: 'sms' });

  const own = await codes.issue(binding, options);
  await codes.discardIfStill(binding, own);
  await expect(codes.check(binding, own)).rejects.toMatchObject({ error: 'invalid_code' });
});

describe('across the file', () => {
  test('no phone ever received the same code twice', () => {
    const pairs = reached.map((r) => `${r.to}:${r.code}`);
    expect(reached.length).toBeGreaterThanOrEqual(10);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  test('no code, number or provider secret in any log line', () => {
    expect(log.lines.some((l) => l.includes('a delivery provider did not take the message'))).toBe(true);
    const leaks = (line: string, secret: string) =>
      /^\d+$/.test(secret) ? new RegExp(`(?<![0-9A-Za-z])${secret}(?![0-9A-Za-z])`).test(line) : line.includes(secret);
    for (const line of log.lines) for (const secret of secrets) expect(leaks(line, secret)).toBe(false);
  });
});
