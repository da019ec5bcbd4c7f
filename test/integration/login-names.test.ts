/**
 * Usernames and e-mail addresses share one namespace at sign-in (either one is accepted), so no
 * user's username may be another user's e-mail address, or the reverse; both compare
 * case-insensitively after NFKC. Enforced by the database too, so concurrent creates cannot both win.
 */
import { decodeJwt } from 'jose';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { authorize, discover, passwordSteps, registerClient, type oc } from '../helpers/rp.js';

const BOB_PASSWORD = 'bob correct horse battery';
const MALLORY_PASSWORD = 'mallory correct horse battery';

let idp: TestIdp;
let config: oc.Configuration;
let bobId: string;

beforeAll(async () => {
  idp = await startTestIdp('login-names', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  const bob = await api('POST', '/users', { user: { external_id: 'names-bob', username: 'bob', email: 'bob@example.org', password: BOB_PASSWORD } });
  expect(bob.status).toBe(201);
  bobId = bob.body.user.id;
});
afterAll(async () => {
  await idp.stop();
});

const api = apiClient(() => idp.url);

/** Signs in through the real authorization flow; the id_token's subject, or the failed step's status. */
async function signIn(login: string, password: string): Promise<{ sub?: string; status?: number }> {
  try {
    const { tokens } = await authorize(config, { scope: 'openid', onStep: passwordSteps(login, password) });
    return { sub: decodeJwt(tokens.id_token!).sub };
  } catch (err) {
    const res = (err as { response?: { status: number } }).response;
    if (!res) throw err;
    return { status: res.status };
  }
}

describe("a username that is another user's e-mail address", () => {
  test.each([['bob@example.org'], ['BOB@Example.ORG'], ['ｂｏｂ@example.org']])('%s is refused; bob keeps signing in by e-mail', async (username) => {
    expect(await signIn('bob@example.org', BOB_PASSWORD)).toEqual({ sub: bobId });

    const r = await api('POST', '/users', { user: { external_id: `names-mallory-${username}`, username, password: MALLORY_PASSWORD } });
    expectJsonError(r, r.status, undefined, 'user.username');
    expect([400, 409]).toContain(r.status);
    expect(await idp.container.accounts.findByExternalId(`names-mallory-${username}`)).toBeUndefined();

    expect(await signIn('bob@example.org', BOB_PASSWORD)).toEqual({ sub: bobId });
    expect(await signIn('bob@example.org', MALLORY_PASSWORD)).toEqual({ status: 401 });
  });

  test('even with the same address as its own e-mail → 409 naming user.username', async () => {
    const r = await api('POST', '/users', {
      user: { external_id: 'names-mallory-own', username: 'bob@example.org', email: 'bob@example.org', password: MALLORY_PASSWORD },
    });
    expectJsonError(r, 409, 'conflict', 'user.username');
    expect(await signIn('bob@example.org', BOB_PASSWORD)).toEqual({ sub: bobId });
  });
});

describe('usernames with an @', () => {
  test("allowed when it is the user's own e-mail (compared case-insensitively); that user signs in by it", async () => {
    const r = await api('POST', '/users', {
      user: { external_id: 'names-carol', username: 'carol@example.org', email: 'Carol@Example.org', password: BOB_PASSWORD },
    });
    expect(r.status).toBe(201);
    expect(await signIn('carol@example.org', BOB_PASSWORD)).toEqual({ sub: r.body.user.id });
  });

  test.each([
    ['without an e-mail', { username: 'dan@example.org' }],
    ['with another e-mail', { username: 'dan@example.org', email: 'daniel@example.org' }],
  ])('refused %s → 400 naming user.username', async (_label, user) => {
    expectJsonError(await api('POST', '/users', { user: { external_id: 'names-dan', ...user } }), 400, 'invalid_request', 'user.username');
    expect(await idp.container.accounts.findByExternalId('names-dan')).toBeUndefined();
  });
});

describe("an e-mail address that is another user's username", () => {
  test("is refused → 409 naming user.email; the username's owner keeps signing in", async () => {
    const erin = await api('POST', '/users', {
      user: { external_id: 'names-erin', username: 'erin@example.org', email: 'erin@example.org', password: BOB_PASSWORD },
    });
    expect(erin.status).toBe(201);
    const r = await api('POST', '/users', { user: { external_id: 'names-erin-2', username: 'erin2', email: 'ERIN@example.org', password: MALLORY_PASSWORD } });
    expectJsonError(r, 409, 'conflict', 'user.email');
    expect(await signIn('erin@example.org', BOB_PASSWORD)).toEqual({ sub: erin.body.user.id });
  });

  test('the database refuses it as well, also on a direct update', async () => {
    const bobBefore = await idp.container.accounts.findByExternalId('names-bob');
    const other = await api('POST', '/users', { user: { external_id: 'names-frank', username: 'frank' } });
    await expect(idp.container.accounts.update(other.body.user.id, { email: 'BOB' })).rejects.toMatchObject({ code: '23505' });
    await expect(idp.container.accounts.update(other.body.user.id, { username: 'bob@example.org', email: 'bob@example.org' })).rejects.toMatchObject({
      code: '23505',
    });
    await expect(idp.container.accounts.update(other.body.user.id, { username: 'frank@example.org' })).rejects.toMatchObject({ code: '23514' });
    expect(await idp.container.accounts.findByExternalId('names-bob')).toEqual(bobBefore);
  });
});

describe('concurrent creates', () => {
  test("a username and another user's e-mail claiming one address at once: exactly one wins", async () => {
    const rounds = Array.from({ length: 12 }, (_, i) => `race${i}@example.org`);
    const results = await Promise.all(
      rounds.flatMap((address, i) => [
        api('POST', '/users', { user: { external_id: `race-name-${i}`, username: address, email: address } }),
        api('POST', '/users', { user: { external_id: `race-mail-${i}`, username: `race-mail-${i}`, email: address.toUpperCase() } }),
      ]),
    );
    for (let i = 0; i < rounds.length; i++) {
      const [byName, byMail] = [results[2 * i]!, results[2 * i + 1]!];
      expect([byName.status, byMail.status].sort()).toEqual([201, 409]);
      expectJsonError(byName.status === 409 ? byName : byMail, 409, 'conflict', byName.status === 409 ? 'user.username' : 'user.email');
    }
    const clash = await idp.container.db
      .selectFrom('users as a')
      .innerJoin('users as b', (j) => j.onRef('a.id', '<>', 'b.id'))
      .select('a.username')
      .where((eb) => eb(eb.fn('lower', ['a.username']), '=', eb.fn('lower', ['b.email'])))
      .execute();
    expect(clash).toEqual([]);
  });
});
