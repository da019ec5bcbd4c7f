import crypto from 'node:crypto';
import type { StoreFixture } from './fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newKey = (what: string) => `${what}:${crypto.randomBytes(8).toString('hex')}`;

/** EphemeralStore behaviour every engine must share; `get()` returns the fixture set up by the caller. */
export function describeEphemeralContract(get: () => StoreFixture): void {
  describe('EphemeralStore', () => {
    const all = () => {
      const f = get();
      return [f.ephemeral, ...f.peers.map((p) => p.ephemeral)];
    };

    test('set then get round-trips; set overwrites; unknown keys are undefined', async () => {
      const s = get().ephemeral;
      const key = newKey('challenge');
      expect(await s.get(key)).toBeUndefined();
      await s.set(key, 'first', 60);
      expect(await s.get(key)).toBe('first');
      await s.set(key, 'second {"json": true}', 60);
      expect(await s.get(key)).toBe('second {"json": true}');
      for (const peer of all()) expect(await peer.get(key)).toBe('second {"json": true}');
    });

    test('values expire after their TTL (get and take both miss)', async () => {
      const s = get().ephemeral;
      const short = newKey('short');
      const short2 = newKey('short');
      const long = newKey('long');
      await s.set(short, 'v', 1);
      await s.set(short2, 'v', 1);
      await s.set(long, 'v', 60);
      expect(await s.get(short)).toBe('v');
      await sleep(1300);
      expect(await s.get(short)).toBeUndefined();
      expect(await s.take(short2)).toBeUndefined();
      expect(await s.get(long)).toBe('v');
    });

    test('take returns the value once and removes it', async () => {
      const s = get().ephemeral;
      const key = newKey('otp');
      await s.set(key, '123456', 60);
      expect(await s.take(key)).toBe('123456');
      expect(await s.take(key)).toBeUndefined();
      expect(await s.get(key)).toBeUndefined();
      expect(await s.take(newKey('missing'))).toBeUndefined();
    });

    test('50 concurrent take of one key: exactly one caller gets the value', async () => {
      const stores = all();
      const key = newKey('race');
      await stores[0]!.set(key, 'only-once', 60);
      const got = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.take(key)));
      expect(got.filter((v) => v === 'only-once')).toHaveLength(1);
      expect(got.filter((v) => v === undefined)).toHaveLength(49);
    });

    test('del removes a key; deleting a missing key is harmless', async () => {
      const s = get().ephemeral;
      const key = newKey('del');
      const other = newKey('del');
      await s.set(key, 'x', 60);
      await s.set(other, 'y', 60);
      await s.del(key);
      expect(await s.get(key)).toBeUndefined();
      expect(await s.get(other)).toBe('y');
      await expect(s.del(newKey('missing'))).resolves.toBeUndefined();
    });

    test('50 concurrent increments of one window: each value 1..50 exactly once', async () => {
      const stores = all();
      const key = newKey('rate');
      const values = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.increment(key, 60)));
      expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await stores[0]!.increment(key, 60)).toBe(51);
      // Counters are per key.
      expect(await stores[0]!.increment(newKey('rate'), 60)).toBe(1);
    });

    test('increment is a fixed window: later increments do not extend it, and it restarts at 1', async () => {
      const s = get().ephemeral;
      const key = newKey('window');
      expect(await s.increment(key, 1)).toBe(1);
      await sleep(600);
      expect(await s.increment(key, 1)).toBe(2); // still inside the window; must not push its end
      await sleep(800); // 1.4 s after the first; a sliding window would end at 1.6 s
      expect(await s.increment(key, 1)).toBe(1);
      expect(await s.increment(key, 1)).toBe(2);
    });
  });
}

/** The EphemeralStore contract on its own, for an engine that has no OIDC store. */
export function describeEphemeralStore(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(name, () => {
    let f: StoreFixture;
    beforeAll(async () => {
      f = await makeStore();
    }, 30_000);
    afterAll(async () => {
      await f?.close();
    });
    describeEphemeralContract(() => f);
  });
}
