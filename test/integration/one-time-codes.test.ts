/**
 * The one-time code rules on each short-lived store (Redis, PostgreSQL), with codes issued on one
 * connection and checked concurrently on others: a code works once, for its binding only, within
 * its lifetime (a fake clock), five tries each, a new code voiding the older, the resend interval
 * held by one of many concurrent senders, and nothing but a keyed hash stored.
 */
import { createOneTimeCodes, type OneTimeCodes } from '../../src/authn/one-time-codes/codes.js';
import { FactorError } from '../../src/authn/factor.js';
import { FakeClock } from '../helpers/mfa-flow.js';
import { makePostgresFixture, makeRedisFixture, type StoreFixture } from '../contract/fixtures.js';

const KEY = 'test-one-time-codes-key';
const options = { ttlSeconds: 300, destinationId: 'd1', channel: 'sms' };
let n = 0;
const binding = () => `login:test-${process.pid}-${++n}-${Date.now()}`;

describe.each([
  ['Redis', () => makeRedisFixture('otp-codes-redis')],
  ['PostgreSQL', () => makePostgresFixture('otp-codes-pg')],
])('one-time codes on %s', (_name, make) => {
  let fixture: StoreFixture;
  const clock = new FakeClock();
  let codes: OneTimeCodes;
  let peers: OneTimeCodes[];

  beforeAll(async () => {
    fixture = await make();
    codes = createOneTimeCodes({ ephemeral: fixture.ephemeral, clock, key: KEY });
    peers = [codes, ...fixture.peers.map((p) => createOneTimeCodes({ ephemeral: p.ephemeral, clock, key: KEY }))];
  });
  afterAll(() => fixture.close());
  afterEach(() => clock.reset());

  const refused = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(FactorError);

  test('six digits, right once, for its binding only; stored only as a keyed hash', async () => {
    const b = binding();
    const code = await codes.issue(b, options);
    expect(code).toMatch(/^[0-9]{6}$/);
    expect(await fixture.storedText()).not.toContain(`"${code}"`);
    await refused(codes.check(binding(), code));
    expect(await codes.check(b, code)).toEqual({ destinationId: 'd1', channel: 'sms' });
    await refused(codes.check(b, code));
  });

  test('expires after its lifetime on the given clock', async () => {
    clock.freeze();
    const b = binding();
    const code = await codes.issue(b, { ...options, ttlSeconds: 60 });
    clock.advance(60_000);
    await refused(codes.check(b, code));
  });

  test('five tries, counted before the comparison even when concurrent', async () => {
    const b = binding();
    const code = await codes.issue(b, options);
    const wrong = code === '000000' ? '000001' : '000000';
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => peers[i % peers.length]!.check(b, wrong)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await refused(codes.check(b, code));
  });

  test('a new code voids the older; of twenty concurrent right answers one wins', async () => {
    const b = binding();
    const old = await codes.issue(b, options);
    const code = await codes.issue(b, options);
    if (old !== code) await refused(codes.check(b, old));
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => peers[i % peers.length]!.check(b, code)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  test('a non-string or malformed code is refused without a 500', async () => {
    const b = binding();
    await codes.issue(b, options);
    for (const bad of [123456, null, {}, '12345', '1234567', "' or 1=1", '１２３４５６']) await refused(codes.check(b, bad));
  });

  test('the resend interval: one of many concurrent sends goes, the others wait; after the interval the next goes', async () => {
    clock.freeze();
    const b = binding();
    const waits = await Promise.all(Array.from({ length: 10 }, (_, i) => peers[i % peers.length]!.reserveSend(b, 30)));
    expect(waits.filter((w) => w === 0)).toHaveLength(1);
    clock.advance(12_000);
    const wait = await codes.reserveSend(b, 30);
    expect(wait).toBeGreaterThanOrEqual(17);
    expect(wait).toBeLessThanOrEqual(18);
    clock.advance(18_000);
    expect(await codes.reserveSend(b, 30)).toBe(0);
  });
});
