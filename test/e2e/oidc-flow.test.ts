import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { authorize, createUser, discover, oc, passwordSteps, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let client: { client_id: string; client_secret: string };
let config: oc.Configuration;

beforeAll(async () => {
  idp = await startTestIdp('oidc-flow');
  client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
  await createUser(idp.url, { external_id: 'alice-1', username: 'alice', email: 'alice@example.test', password: 'correct horse battery staple' });
});
afterAll(async () => {
  await idp.stop();
});

test('code + PKCE login: id_token verifies against JWKS with amr, acr and auth_time', async () => {
  const { tokens } = await authorize(config, { onStep: passwordSteps('alice', 'correct horse battery staple') });
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), {
    issuer: idp.url,
    audience: client.client_id,
  });
  expect(protectedHeader.alg).toBe('RS256');
  expect(payload.amr).toEqual(['pwd']);
  expect(payload.acr).toBe('aal1');
  expect(typeof payload.auth_time).toBe('number');
  expect(tokens.refresh_token).toBeTruthy();

  const info = await oc.fetchUserInfo(config, tokens.access_token, payload.sub!);
  expect(info.email).toBe('alice@example.test');

  const refreshed = await oc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).not.toBe(tokens.access_token);
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  // Rotation: the old refresh token is spent, and reusing it revokes the family.
  await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('client_credentials yields an RS256 JWT access token for the API audience', async () => {
  const tokens = await oc.clientCredentialsGrant(config, { scope: 'api' });
  const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: `${idp.url}/api` });
  expect(payload.client_id).toBe(client.client_id);
});
