import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { enrolTotp, totpCode } from '../helpers/mfa.js';
import { authorize, createUser, discover, oc, registerClient, type StepHandler } from '../helpers/rp.js';

let idp: TestIdp;
let config: oc.Configuration;
let clientId: string;
let secret: string;

beforeAll(async () => {
  idp = await startTestIdp('mfa-login');
  const client = await registerClient(idp.url, { first_party: true });
  clientId = client.client_id;
  config = await discover(idp.url, client.client_id, client.client_secret);
  const user = await createUser(idp.url, { external_id: 'mfa-1', username: 'mallory', password: 'a long enough password' });
  secret = await enrolTotp(idp.container, user.id);
});
afterAll(async () => {
  await idp.stop();
});

test('password + TOTP login: mfa_required, then a code independently computed gives amr pwd+otp+mfa and acr aal2', async () => {
  const seen: string[] = [];
  const steps: StepHandler = async ({ step, interactionUrl, browser }) => {
    seen.push(step);
    const login = await browser.json(`${interactionUrl.href}/login`, { username: 'mallory', password: 'a long enough password' });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
    const again = await browser.json(interactionUrl);
    expect(again.body.step).toBe('mfa');
    const res = await browser.json(`${interactionUrl.href}/mfa/totp`, { code: await totpCode(secret) });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('success');
    // Replaying the accepted code in the (now finished) interaction never succeeds again.
    const replay = await browser.json(`${interactionUrl.href}/mfa/totp`, { code: await totpCode(secret) });
    expect(replay.status).toBeGreaterThanOrEqual(400);
    return res.body.redirect_to;
  };
  const { tokens } = await authorize(config, { onStep: steps });
  const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.url, audience: clientId });
  expect(seen).toEqual(['login']);
  expect(payload.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(payload.acr).toBe('aal2');
  expect(payload.step_up).toBeUndefined();
});
