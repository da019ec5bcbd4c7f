import crypto from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { createAdapterClass, type AdapterClass } from '../../src/oidc/adapter.js';
import { createClientCache } from '../../src/oidc/client-cache.js';
import { createSecretBox } from '../../src/lib/crypto.js';
import { TEST_ENCRYPTION_KEY } from '../helpers/env.js';
import { describeEphemeralContract } from './ephemeral.contract.js';
import type { StoreFixture } from './fixtures.js';

const ID_KEY = 'contract-id-key';
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newId = () => crypto.randomBytes(16).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);

/** Asserts the settled results of a race: exactly one winner, every loser an InvalidGrant. */
export function expectOneWinner(results: PromiseSettledResult<unknown>[]): void {
  const fulfilled = results.filter((r) => r.status === 'fulfilled');
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(fulfilled).toHaveLength(1);
  expect(rejected).toHaveLength(results.length - 1);
  for (const r of rejected) {
    expect(r.reason).toMatchObject({ name: 'InvalidGrant', error: 'invalid_grant' });
  }
}

/**
 * The behaviour oidc-provider relies on, checked through the real Adapter class (with `durable`
 * and `shortLived` both the store under test) and through the raw OidcPayloadStore. The same
 * suite runs against every engine; an engine that passes is interchangeable with the others.
 * Also runs the EphemeralStore contract on the same fixture.
 */
export function describeAdapter(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(name, () => {
    let f: StoreFixture;
    let Adapter: AdapterClass;
    /** Adapters over every instance (main + peers), so concurrent calls span connections. */
    let adaptersFor: (model: string) => Adapter[];
    const box = createSecretBox(Buffer.from(TEST_ENCRYPTION_KEY, 'base64'));

    beforeAll(async () => {
      f = await makeStore();
      const clients = createClientCache(f.clients, box, 0);
      Adapter = createAdapterClass({ durable: f.oidc, shortLived: f.oidc, clients, idKey: ID_KEY, box });
      const classes = [Adapter, ...f.peers.map((p) => createAdapterClass({ durable: p.oidc, shortLived: p.oidc, clients, idKey: ID_KEY, box }))];
      adaptersFor = (model) => classes.map((C) => new C(model));
    }, 30_000);
    afterAll(async () => {
      await f?.close();
    });

    describe('OIDC payloads through the Adapter', () => {
      test('upsert then find returns the payload unchanged, snake_case and nested keys included', async () => {
        const id = newId();
        const payload = {
          jti: id,
          kind: 'AccessToken',
          accountId: 'u-1',
          clientId: 'c-1',
          grantId: newId(),
          exp: nowSec() + 60,
          iat: nowSec(),
          scope: 'openid email',
          claims: { id_token: { email: null } },
          extra_field: { nested_key: [1, 'two', { deep_key: true }] },
        };
        await new Adapter('AccessToken').upsert(id, payload, 60);
        expect(await new Adapter('AccessToken').find(id)).toEqual(payload);
        // Stored under a keyed hash of the id, not the id itself.
        expect(await f.oidc.find('AccessToken', id)).toBeUndefined();
        // Scoped by model: the same id under another model is a different entry.
        expect(await new Adapter('RefreshToken').find(id)).toBeUndefined();
      });

      test('find of an unknown id is undefined', async () => {
        expect(await new Adapter('AccessToken').find(newId())).toBeUndefined();
        expect(await f.oidc.find('Session', newId())).toBeUndefined();
      });

      test('destroy removes the entry: find and findByUid no longer return it', async () => {
        const id = newId();
        const uid = newId();
        const a = new Adapter('Session');
        await a.upsert(id, { uid, accountId: 'u-2' }, 60);
        expect(await a.find(id)).toMatchObject({ uid });
        await a.destroy(id);
        expect(await a.find(id)).toBeUndefined();
        expect(await a.findByUid(uid)).toBeUndefined();
        await expect(a.destroy(id)).resolves.toBeUndefined(); // destroying twice is harmless
      });

      test('entries expire after expiresIn seconds', async () => {
        const id = newId();
        const uid = newId();
        const keep = newId();
        const interaction = new Adapter('Interaction');
        await interaction.upsert(id, { uid, kind: 'Interaction' }, 1);
        await interaction.upsert(keep, { uid: newId(), kind: 'Interaction' }, 60);
        expect(await interaction.find(id)).toMatchObject({ uid });
        expect(await interaction.findByUid(uid)).toMatchObject({ uid });
        await sleep(1300);
        expect(await interaction.find(id)).toBeUndefined();
        expect(await interaction.findByUid(uid)).toBeUndefined();
        expect(await f.oidc.consume('Interaction', id)).toBe(false); // an expired entry cannot be consumed
        expect(await interaction.find(keep)).toBeDefined();
      });

      test('findByUid finds the entry by its uid, within its model only', async () => {
        const id = newId();
        const uid = newId();
        await new Adapter('Session').upsert(id, { uid, accountId: 'u-3', loginTs: nowSec() }, 60);
        expect(await new Adapter('Session').findByUid(uid)).toEqual({ uid, accountId: 'u-3', loginTs: expect.any(Number) });
        expect(await new Adapter('Interaction').findByUid(uid)).toBeUndefined();
        expect(await new Adapter('Session').findByUid(newId())).toBeUndefined();
      });

      test('findByUserCode finds a device code by its user code', async () => {
        const id = newId();
        const userCode = `${newId().slice(0, 4)}-${newId().slice(0, 4)}`;
        await new Adapter('DeviceCode').upsert(id, { userCode, clientId: 'c-1', grantId: newId() }, 60);
        expect(await new Adapter('DeviceCode').findByUserCode(userCode)).toMatchObject({ userCode, clientId: 'c-1' });
        expect(await new Adapter('DeviceCode').findByUserCode('NOPE-NOPE')).toBeUndefined();
        expect(await new Adapter('AuthorizationCode').findByUserCode(userCode)).toBeUndefined();
      });

      test('consume marks the entry consumed with the time; a second consume is rejected as invalid_grant', async () => {
        const id = newId();
        const a = new Adapter('AuthorizationCode');
        await a.upsert(id, { accountId: 'u-4', clientId: 'c-1' }, 60);
        expect((await a.find(id))?.consumed).toBeUndefined();
        const before = nowSec();
        await a.consume(id);
        const consumed = (await a.find(id))?.consumed;
        expect(typeof consumed).toBe('number');
        expect(consumed).toBeGreaterThanOrEqual(before - 1);
        expect(consumed).toBeLessThanOrEqual(nowSec() + 1);
        await expect(a.consume(id)).rejects.toMatchObject({ name: 'InvalidGrant', error: 'invalid_grant' });
        // Without a grant there is nothing to revoke: the consumed entry stays readable.
        expect((await a.find(id))?.consumed).toBe(consumed);
      });

      test('consume of a missing or destroyed entry is rejected', async () => {
        const a = new Adapter('AuthorizationCode');
        await expect(a.consume(newId())).rejects.toMatchObject({ error: 'invalid_grant' });
        const id = newId();
        await a.upsert(id, { accountId: 'u-5' }, 60);
        await a.destroy(id);
        expect(await f.oidc.consume('AuthorizationCode', id)).toBe(false);
        await expect(a.consume(id)).rejects.toMatchObject({ error: 'invalid_grant' });
      });

      test('50 concurrent consume() of one code: exactly one resolves, 49 reject with invalid_grant, the grant is revoked', async () => {
        const id = newId();
        const grantId = newId();
        const sibling = newId();
        await new Adapter('AuthorizationCode').upsert(id, { accountId: 'u-6', clientId: 'c-1', grantId }, 60);
        await new Adapter('AccessToken').upsert(sibling, { accountId: 'u-6', grantId }, 60);
        const adapters = adaptersFor('AuthorizationCode');
        const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => adapters[i % adapters.length]!.consume(id)));
        expectOneWinner(results);
        // A lost race is a reuse of the code: its grant is revoked, sibling tokens included.
        expect(await new Adapter('AccessToken').find(sibling)).toBeUndefined();
        expect(await new Adapter('AuthorizationCode').find(id)).toBeUndefined();
      });

      test('50 concurrent raw consume() of one entry: exactly one returns true', async () => {
        const id = newId();
        await f.oidc.upsert('RefreshToken', id, { accountId: 'u-7' }, 60);
        const stores = [f.oidc, ...f.peers.map((p) => p.oidc)];
        const won = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.consume('RefreshToken', id)));
        expect(won.filter(Boolean)).toHaveLength(1);
        expect((await f.oidc.find('RefreshToken', id))?.consumed).toEqual(expect.any(Number));
      });

      test('revokeByGrantId removes every entry of that grant, across models, and nothing else', async () => {
        const g1 = newId();
        const g2 = newId();
        const userCode = `U-${newId().slice(0, 8)}`;
        const mine = [
          ['AuthorizationCode', newId()],
          ['AccessToken', newId()],
          ['AccessToken', newId()],
          ['RefreshToken', newId()],
          ['DeviceCode', newId()],
          ['BackchannelAuthenticationRequest', newId()],
        ] as const;
        const others = [
          ['AccessToken', newId()],
          ['RefreshToken', newId()],
        ] as const;
        const session = newId();
        for (const [model, id] of mine) {
          await new Adapter(model).upsert(id, { grantId: g1, ...(model === 'DeviceCode' ? { userCode } : {}) }, 60);
        }
        for (const [model, id] of others) await new Adapter(model).upsert(id, { grantId: g2 }, 60);
        await new Adapter('Session').upsert(session, { accountId: 'u-8', uid: newId() }, 60);

        await new Adapter('AccessToken').revokeByGrantId(g1);

        for (const [model, id] of mine) expect(await new Adapter(model).find(id)).toBeUndefined();
        expect(await new Adapter('DeviceCode').findByUserCode(userCode)).toBeUndefined();
        for (const [model, id] of others) expect(await new Adapter(model).find(id)).toEqual({ jti: id, grantId: g2 });
        expect(await new Adapter('Session').find(session)).toMatchObject({ accountId: 'u-8' });

        // The raw store does the same, and revoking an unknown grant is a no-op.
        const raw = newId();
        await f.oidc.upsert('AccessToken', raw, { grantId: g2 }, 60);
        await f.oidc.revokeByGrantId(newId());
        await f.oidc.revokeByGrantId(g2);
        for (const [model, id] of others) expect(await new Adapter(model).find(id)).toBeUndefined();
        expect(await f.oidc.find('AccessToken', raw)).toBeUndefined();
        expect(await new Adapter('Session').find(session)).toBeDefined();
      });

      test('revokeByGrantId leaves an Interaction and a Session that name the grant alone', async () => {
        const grantId = newId();
        const token = newId();
        const interaction = newId();
        const session = newId();
        const sessionUid = newId();
        await new Adapter('AccessToken').upsert(token, { jti: token, grantId }, 60);
        await new Adapter('Interaction').upsert(interaction, { jti: interaction, kind: 'Interaction', grantId, params: { prompt: 'login' } }, 60);
        await new Adapter('Session').upsert(session, { jti: session, uid: sessionUid, accountId: 'u-10', authorizations: { c1: { grantId } }, grantId }, 60);
        const rawInteraction = newId();
        await f.oidc.upsert('Interaction', rawInteraction, { grantId }, 60);

        await new Adapter('Grant').revokeByGrantId(grantId);

        expect(await new Adapter('AccessToken').find(token)).toBeUndefined();
        // A login in progress survives the end of the grant it started from.
        expect(await new Adapter('Interaction').find(interaction)).toMatchObject({ jti: interaction, grantId });
        expect(await new Adapter('Session').findByUid(sessionUid)).toMatchObject({ jti: session, accountId: 'u-10' });
        expect(await f.oidc.find('Interaction', rawInteraction)).toEqual({ grantId });
      });

      test('nothing stored holds a bearer value: ids, user codes, the session cookie and ids inside an Interaction', async () => {
        const [at, code, rt, session, interaction, device, par] = [newId(), newId(), newId(), newId(), newId(), newId(), newId()];
        const [uid, grantId] = [newId(), newId()];
        const userCode = `WDJB-${newId().slice(0, 4)}`;
        const times = { iat: nowSec(), exp: nowSec() + 60 };
        const token = { ...times, grantId, accountId: 'u-11', clientId: 'c-1', sessionUid: uid, scope: 'openid' };
        const entries: [string, string, AdapterPayload][] = [
          ['AccessToken', at, { ...token, jti: at, kind: 'AccessToken' }],
          ['AuthorizationCode', code, { ...token, jti: code, kind: 'AuthorizationCode', codeChallenge: 'x', redirectUri: 'https://rp.example/cb' }],
          ['RefreshToken', rt, { ...token, jti: rt, kind: 'RefreshToken', rotations: 1 }],
          [
            'Session',
            session,
            { ...times, jti: session, kind: 'Session', uid, accountId: 'u-11', loginTs: nowSec(), authorizations: { 'c-1': { sid: newId(), grantId } } },
          ],
          [
            'Interaction',
            interaction,
            {
              ...times,
              jti: interaction,
              kind: 'Interaction',
              grantId,
              deviceCode: device,
              parJti: par,
              returnTo: `https://idp.example/auth/${interaction}`,
              session: { accountId: 'u-11', uid, cookie: session, acr: 'aal1' },
              params: { client_id: 'c-1', scope: 'openid' },
              prompt: { name: 'login', reasons: [], details: {} },
            },
          ],
          ['DeviceCode', device, { ...token, jti: device, kind: 'DeviceCode', userCode, params: { client_id: 'c-1' } }],
          ['PushedAuthorizationRequest', par, { ...times, jti: par, kind: 'PushedAuthorizationRequest', clientId: 'c-1', request: 'eyJhbGciOiJub25lIn0.e30.' }],
        ];
        for (const [model, id, payload] of entries) await new Adapter(model).upsert(id, payload, 60);

        const stored = await f.storedText();
        for (const [, id] of entries) expect(stored).toContain(crypto.createHmac('sha256', ID_KEY).update(id).digest('base64url'));
        for (const secret of [at, code, rt, session, interaction, device, par, userCode]) expect(stored).not.toContain(secret);

        // Every read still gives the provider the payload it saved.
        for (const [model, id, payload] of entries) expect(await new Adapter(model).find(id)).toEqual(payload);
        expect(await new Adapter('Session').findByUid(uid)).toEqual(entries[3]![2]);
        expect(await new Adapter('DeviceCode').findByUserCode(userCode)).toEqual(entries[5]![2]);
      });

      test('an entry whose sealed part was altered reads as absent, not as an error', async () => {
        const id = newId();
        const uid = newId();
        const a = new Adapter('Session');
        await a.upsert(id, { jti: id, uid, accountId: 'u-12' }, 60);
        const hashed = crypto.createHmac('sha256', ID_KEY).update(id).digest('base64url');
        const stored = await f.oidc.find('Session', hashed);
        expect(stored?.sealed).toEqual(expect.any(String));
        await f.oidc.upsert('Session', hashed, { ...stored, sealed: `${String(stored!.sealed).slice(0, -4)}AAAA` }, 60);
        expect(await a.find(id)).toBeUndefined();
        expect(await a.findByUid(uid)).toBeUndefined();
      });

      test('a request answering 503 takes back its consumes and removes what it issued; other answers keep them', async () => {
        const run = async (status: number) => {
          const [spent, issued, grantId] = [newId(), newId(), newId()];
          await new Adapter('RefreshToken').upsert(spent, { jti: spent, grantId }, 60);
          const ctx = { status: 200 } as Parameters<AdapterClass['undoOnOutage']>[0];
          await Adapter.undoOnOutage(ctx, async () => {
            await new Adapter('RefreshToken').consume(spent);
            await new Adapter('RefreshToken').upsert(issued, { jti: issued, grantId }, 60);
            ctx.status = status;
          });
          return { spent: await new Adapter('RefreshToken').find(spent), issued: await new Adapter('RefreshToken').find(issued) };
        };
        const failed = await run(503);
        expect(failed.spent).toBeDefined();
        expect(failed.spent?.consumed).toBeUndefined();
        expect(failed.issued).toBeUndefined();
        for (const status of [200, 400, 500]) {
          const kept = await run(status);
          expect(kept.spent?.consumed).toEqual(expect.any(Number));
          expect(kept.issued).toBeDefined();
        }
      });

      test('an entry upserted again after its grant was revoked is found again', async () => {
        const grantId = newId();
        const id = newId();
        const a = new Adapter('AccessToken');
        await a.upsert(id, { grantId, n: 1 }, 60);
        await a.revokeByGrantId(grantId);
        await a.upsert(id, { grantId, n: 2 }, 60);
        expect(await a.find(id)).toEqual({ jti: id, grantId, n: 2 });
        const later = newId();
        await a.upsert(later, { grantId }, 60);
        await a.revokeByGrantId(grantId);
        expect(await a.find(id)).toBeUndefined();
        expect(await a.find(later)).toBeUndefined();
      });

      test('upsert overwrites the payload and clears consumed', async () => {
        const id = newId();
        const uid = newId();
        const a = new Adapter('Interaction');
        await a.upsert(id, { jti: id, uid, step: 'login', old: true }, 60);
        await a.consume(id);
        expect((await a.find(id))?.consumed).toEqual(expect.any(Number));
        await a.upsert(id, { jti: id, uid, step: 'consent' }, 60);
        expect(await a.find(id)).toEqual({ jti: id, uid, step: 'consent' });
        expect(await a.findByUid(uid)).toEqual({ jti: id, uid, step: 'consent' });
        await expect(a.consume(id)).resolves.toBeUndefined(); // consumable again
      });

      test('entries written through one connection are read and consumed through another', async () => {
        const others = f.peers.length ? f.peers.map((p) => p.oidc) : [f.oidc];
        const id = newId();
        await f.oidc.upsert('AccessToken', id, { accountId: 'u-9' }, 60);
        for (const o of others) expect(await o.find('AccessToken', id)).toEqual({ accountId: 'u-9' });
        expect(await others[0]!.consume('AccessToken', id)).toBe(true);
        expect(await f.oidc.consume('AccessToken', id)).toBe(false);
      });

      test('Client model: find reads the client registry (secret opened), upsert is refused', async () => {
        const clientId = `client-${newId()}`;
        await f.addClient({
          clientId,
          clientSecretSealed: box.seal('s3cret'),
          metadata: { redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_basic' },
          firstParty: false,
          mfaPolicy: null,
        });
        const a = new Adapter('Client');
        expect(await a.find(clientId)).toEqual({
          client_id: clientId,
          client_secret: 's3cret',
          redirect_uris: ['https://rp.example/cb'],
          token_endpoint_auth_method: 'client_secret_basic',
        });
        expect(await a.find(`client-${newId()}`)).toBeUndefined();
        await expect(a.upsert(clientId, { client_id: clientId }, 60)).rejects.toThrow(/admin API/);
      });
    });

    describeEphemeralContract(() => f);
  });
}
