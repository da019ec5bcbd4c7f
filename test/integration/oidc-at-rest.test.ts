/**
 * What a copy of the stores gives away: no access token, refresh token, code, session cookie or
 * interaction id may appear in oidc_payloads or under the IdP's Redis prefix, and the whole
 * protocol still works on top of the hashed ids.
 */
import { Migrator, sql } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { migrateToLatest, openDatabase } from '../../src/store/db.js';
import { oidcRowsAsText, redisKeysAsText } from '../helpers/at-rest.js';
import { startTestIdp, type Mode, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser, seedTotp } from '../helpers/mfa-flow.js';
import { REDIRECT_URI, discover, oc, registerClient } from '../helpers/rp.js';

describe.each<Mode>(['postgres+redis', 'pglite'])('bearer values at rest (%s)', (mode) => {
  let idp: TestIdp;
  let config: oc.Configuration;

  beforeAll(async () => {
    idp = await startTestIdp('at-rest', mode);
    const client = await registerClient(idp.url, { first_party: true });
    config = await discover(idp.url, client.client_id, client.client_secret);
  }, 60_000);
  afterAll(async () => {
    await idp.stop();
  });

  const storedText = async () => [await oidcRowsAsText(idp.container.db), idp.container.redis ? await redisKeysAsText(`${idp.name}:`) : ''].join('\n');
  const expectNoneStored = async (present: RegExp, secrets: string[]) => {
    const stored = await storedText();
    expect(stored).toMatch(present); // the scan does see the entries
    for (const secret of secrets) expect({ secret, found: stored.includes(secret) }).toEqual({ secret, found: false });
  };

  test('login, refresh, userinfo, introspection, revocation and logout leave no bearer value in storage', async () => {
    const user = await newUser(idp.url, 'rest');
    const flow = await beginAuth(config, { scope: 'openid offline_access email' });
    const uid = flow.interactionUrl!.pathname.split('/')[2]!;
    // The interaction under way: its id is the interaction cookie's value.
    await expectNoneStored(/Interaction/, [uid, ...flow.browser.cookies().values()]);

    // A login at its second-factor step: the server-side login transaction is keyed by the interaction too.
    const mfaUser = await newUser(idp.url, 'rest-mfa');
    await seedTotp(idp.container, mfaUser.id);
    const mfaFlow = await beginAuth(config);
    const mfaUid = mfaFlow.interactionUrl!.pathname.split('/')[2]!;
    expect((await mfaFlow.post('login', { username: mfaUser.username, password: PASSWORD })).body.status).toBe('mfa_required');
    expect((await mfaFlow.details()).body.step).toBe('mfa');
    await expectNoneStored(/Interaction/, [mfaUid, ...mfaFlow.browser.cookies().values()]);

    const login = await flow.post('login', { username: user.username, password: PASSWORD });
    expect(login.status).toBe(200);
    const callback = await flow.browser.follow(new URL(login.body.redirect_to, idp.url), (u) => u.href.startsWith(REDIRECT_URI));
    const code = callback.searchParams.get('code')!;
    const { tokens, claims } = await flow.complete(callback.href);
    expect(claims.sub).toBe(user.id);
    const sessionCookie = flow.browser.cookies().get('idp_session');
    expect(sessionCookie).toBeTruthy();

    const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
    expect((await oc.fetchUserInfo(config, refreshed.access_token, user.id)).sub).toBe(user.id);
    const info = await oc.tokenIntrospection(config, refreshed.access_token);
    expect(info).toMatchObject({ active: true, sub: user.id });
    expect((await oc.tokenIntrospection(config, refreshed.refresh_token!)).active).toBe(true);

    await expectNoneStored(/Session[^]*RefreshToken|RefreshToken[^]*Session/, [
      uid,
      code,
      sessionCookie!,
      ...flow.browser.cookies().values(),
      tokens.access_token,
      tokens.refresh_token!,
      refreshed.access_token,
      refreshed.refresh_token!,
    ]);

    // The spent refresh token is still recognised as such: its reuse revokes the grant.
    await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oc.tokenIntrospection(config, refreshed.refresh_token!)).active).toBe(false);

    // Another login, then revocation and logout.
    const again = await beginAuth(config, { scope: 'openid offline_access' });
    const second = await again.complete((await again.post('login', { username: user.username, password: PASSWORD })).body.redirect_to);
    await oc.tokenRevocation(config, second.tokens.refresh_token!);
    await expect(oc.refreshTokenGrant(config, second.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await oc.tokenRevocation(config, second.tokens.access_token);
    expect((await oc.tokenIntrospection(config, second.tokens.access_token)).active).toBe(false);

    const end = new URL(`${idp.url}/session/end`);
    end.searchParams.set('id_token_hint', second.tokens.id_token!);
    const page = await again.browser.fetch(end);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1];
    const confirm = await again.browser.fetch(`${idp.url}/session/end/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString(),
    });
    expect(confirm.status).toBe(303);
    const silent = await beginAuth(config, { browser: again.browser, params: { prompt: 'none' } });
    expect(silent.landed.searchParams.get('error')).toBe('login_required');
  }, 60_000);
});

test('the upgrade deletes entries stored under their plain ids', async () => {
  const h = await openDatabase({ dataDir: ':memory:' });
  try {
    const before = Object.keys(migrations).filter((name) => name < '0007_hashed_oidc_ids');
    await new Migrator({ db: h.db, provider: { getMigrations: async () => migrations } }).migrateTo(before.at(-1)!);
    await sql`insert into oidc_payloads (model, id, payload) values ('RefreshToken', 'plain-refresh-token', '{"jti":"plain-refresh-token"}'),
      ('Session', 'plain-session-id', '{"jti":"plain-session-id"}')`.execute(h.db);
    await migrateToLatest(h.db);
    expect(await oidcRowsAsText(h.db)).toBe('');
  } finally {
    await h.close();
  }
});
