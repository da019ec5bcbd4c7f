/**
 * Resource indicators (RFC 8707): a `resource` the IdP does not serve is the client's mistake, so
 * each endpoint that takes one answers `invalid_target` (RFC 8707 section 2) and never a server error.
 */
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { REDIRECT_URI, oc, registerClient } from '../helpers/rp.js';

let idp: TestIdp;
let client: { client_id: string; client_secret: string };

beforeAll(async () => {
  idp = await startTestIdp('resource-indicators');
  client = await registerClient(idp.url, { first_party: true });
});
afterAll(async () => {
  await idp.stop();
});

const basic = () => `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

const postForm = (path: string, body: Record<string, string>) =>
  fetch(`${idp.url}${path}`, {
    method: 'POST',
    headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });

const authParams = async (resource: string) => ({
  client_id: client.client_id,
  response_type: 'code',
  redirect_uri: REDIRECT_URI,
  scope: 'openid',
  state: 'st-1',
  resource,
  code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
  code_challenge_method: 'S256',
});

describe('unknown resource indicator', () => {
  test.each(['urn:x', 'https://evil.example/'])('client_credentials with resource=%s → 400 invalid_target', async (resource) => {
    const res = await postForm('/token', { grant_type: 'client_credentials', scope: 'api', resource });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_target');
    expect(typeof body.error_description).toBe('string');
  });

  test('client_credentials with the API audience still gets a token', async () => {
    const res = await postForm('/token', { grant_type: 'client_credentials', scope: 'api', resource: `${idp.url}/api` });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { access_token?: string }).access_token).toBeTruthy();
  });

  test('/auth with resource=https://evil.example/ → invalid_target sent back to the registered redirect_uri', async () => {
    const url = new URL(`${idp.url}/auth`);
    for (const [k, v] of Object.entries(await authParams('https://evil.example/'))) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('invalid_target');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(idp.url);
  });

  test('PAR with resource=https://evil.example/ → 400 invalid_target', async () => {
    const res = await postForm('/request', await authParams('https://evil.example/'));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_target');
    expect(typeof body.error_description).toBe('string');
  });

  test('many unknown resources at once: every answer is 400, none 500', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postForm(
          i % 2 ? '/token' : '/request',
          i % 2
            ? { grant_type: 'client_credentials', scope: 'api', resource: `urn:x:${i}` }
            : {
                client_id: client.client_id,
                response_type: 'code',
                redirect_uri: REDIRECT_URI,
                scope: 'openid',
                resource: `https://evil.example/${i}`,
                code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
                code_challenge_method: 'S256',
              },
        ).then((r) => r.status),
      ),
    );
    expect(statuses).toEqual(Array(20).fill(400));
  });
});
