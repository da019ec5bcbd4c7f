/**
 * `direct` attestation through the IdP: a registration must carry a certificate chain that ends in
 * a configured trust anchor (not merely a self-signed root of its own), and the authenticator's
 * AAGUID and model name are recorded. The attestation library keeps its roots process-wide, so this
 * IdP has a file (and so a module registry) of its own.
 */
import { createAttestationCa, createAttestationSigner, type AttestationCa } from '../helpers/attestation-certs.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { discover, registerClient, type oc } from '../helpers/rp.js';
import { SoftAuthenticator, type AttestationChoice } from '../helpers/soft-authenticator.js';

/** An AAGUID the community list names. */
const AAGUID = 'fcb1bcb4-f370-078c-6993-bc24d0ae3fbe';
const AAGUID_NAME = 'Ledger Nano X FIDO2 Authenticator';
const aaguidBytes = new Uint8Array(Buffer.from(AAGUID.replace(/-/g, ''), 'hex'));

let idp: TestIdp;
let config: oc.Configuration;
let anchor: AttestationCa;

beforeAll(async () => {
  anchor = await createAttestationCa('Trusted Authenticator Vendor Root');
  idp = await startTestIdp('passkey-attestation', 'postgres+redis', { webauthn: { attestation: 'direct', trustAnchors: [anchor.pem] } });
  const client = await registerClient(idp.url, { first_party: true });
  config = await discover(idp.url, client.client_id, client.client_secret);
});
afterAll(async () => {
  await idp.stop();
});

async function call(browser: Browser, path: string, body: unknown) {
  const res = await browser.fetch(`${idp.url}/api/v1${path}`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A fresh password session, then a registration with an authenticator that attests as told. */
async function register(attestation: AttestationChoice) {
  const user = await newUser(idp.url, 'attest');
  const flow = await beginAuth(config);
  const login = await flow.post('login', { username: user.username, password: PASSWORD });
  await flow.complete(login.body.redirect_to);
  const options = await call(flow.browser, '/mfa/passkey/register/begin', {});
  expect(options.body.attestation).toBe('direct');
  const device = new SoftAuthenticator({ origin: new URL(idp.url).origin, aaguid: aaguidBytes, attestation });
  const answer = await call(flow.browser, '/mfa/passkey/register/finish', { credential: await device.create(options.body) });
  const rows = await idp.container.db
    .selectFrom('webauthnCredentials as w')
    .innerJoin('credentials as c', 'c.id', 'w.id')
    .selectAll('w')
    .where('c.userId', '=', user.id)
    .execute();
  return { answer, rows };
}

test('a chain under a configured anchor registers; the AAGUID and the model name are recorded', async () => {
  const { answer, rows } = await register({ packed: await createAttestationSigner(anchor, { aaguid: aaguidBytes }) });
  expect(answer.status).toBe(201);
  expect(answer.body).toMatchObject({ name: AAGUID_NAME, authenticator: AAGUID_NAME, aaguid: AAGUID });
  expect(rows).toEqual([expect.objectContaining({ aaguid: AAGUID, authenticatorName: AAGUID_NAME, attestationFormat: 'packed' })]);
});

test('a chain under a self-signed root of its own is refused, sent with the chain or not; nothing is stored', async () => {
  const rogue = await createAttestationCa('Trusted Authenticator Vendor Root');
  for (const includeCa of [false, true]) {
    const { answer, rows } = await register({ packed: await createAttestationSigner(rogue, { aaguid: aaguidBytes, includeCa }) });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    expect(rows).toEqual([]);
  }
});

test('no attestation, or self attestation, proves no make: 400 naming it, nothing stored', async () => {
  for (const attestation of ['none', 'packed-self'] as const) {
    const { answer, rows } = await register(attestation);
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: expect.stringMatching(/attestation/) } });
    expect(rows).toEqual([]);
  }
});
