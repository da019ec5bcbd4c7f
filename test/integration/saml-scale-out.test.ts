/**
 * SAML SSO across two IdP nodes (in-process) behind one issuer, sharing one PostgreSQL schema and
 * one Redis prefix, with node-saml as the SP: the login a request starts, the SSO session, the
 * AuthnRequest replay cache, the SP registry and the SAML signing key must all live in the shared
 * stores, so any step may land on either node.
 */
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, codeAt, newUser, seedTotp } from '../helpers/mfa-flow.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';
import { REFEDS_MFA, decodeResponse, land, readPostForm, registerSamlSp, spValidates, type SamlSp } from '../helpers/saml-flow.js';

let a: TestIdp;
let b: TestIdp;
let sp: SamlSp;

beforeAll(async () => {
  a = await startTestIdp('saml-scale-a', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  b = await startTestIdp('saml-scale-b', 'postgres+redis', {
    databaseSchema: a.name,
    redisKeyPrefix: `${a.name}:`,
    issuer: a.url,
    rateLimit: { loginPerIpPerMinute: 10_000 },
  });
  // Registered through node 1's admin API; node 2 serves it from the shared registry.
  sp = await registerSamlSp(a.url, 'https://sp-scale.example');
}, 30_000);

afterAll(async () => {
  await b?.close();
  await a?.stop();
  if (a) await deleteKeysWithPrefix(`${a.name}:`);
});

/** A browser whose requests to the issuer go to whichever node `to` names at the time: a load balancer without sticky sessions. */
function balancedBrowser() {
  let node: TestIdp = a;
  const served: string[] = [];
  const browser = new Browser((url) => {
    if (url.origin !== a.url) return url;
    const out = new URL(url);
    out.port = String(node.port);
    served.push(`${node === a ? 'a' : 'b'} ${url.pathname.replace(/\/[\w-]{24,}/g, '/:id')}`);
    return out;
  });
  return {
    served,
    to(next: TestIdp) {
      node = next;
      return browser;
    },
  };
}

/** The signing certificates the metadata of `node` publishes (base64 DER), newest first. */
const metadataCertificates = async (node: TestIdp) =>
  [...(await (await fetch(`${node.url}/saml/metadata`)).text()).matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)].map((m) => m[1]!);

const refusalReason = async (node: TestIdp, requestId: string) =>
  (
    await node.container.db
      .selectFrom('auditEvents')
      .select('data')
      .where('requestId', '=', requestId)
      .where('type', '=', 'saml.request.refused')
      .executeTakeFirst()
  )?.data as { reason?: string } | undefined;

test('an AuthnRequest on node 1, password and TOTP on node 2, the form from node 1; the session made on node 2 is reused on node 1', async () => {
  const user = await newUser(a.url, 'saml-scale');
  const secret = await seedTotp(b.container, user.id);
  const lb = balancedBrowser();
  const mfaSp = sp.make({ authnContext: [REFEDS_MFA], racComparison: 'minimum' });

  const started = await land(lb.to(a), await mfaSp.getAuthorizeUrlAsync('relay-1', undefined, {}));
  if (started.kind !== 'interaction') throw new Error('expected a login');
  const login = await lb.to(b).json(`${started.url.href}/login`, { username: user.username, password: PASSWORD });
  expect(login.body).toEqual({ status: 'mfa_required', methods: ['totp'] });
  expect((await lb.to(a).json(started.url)).body).toMatchObject({ step: 'mfa' });
  const finished = await lb.to(b).json(`${started.url.href}/mfa/totp`, { code: await codeAt(secret, Date.now()) });
  expect(finished.body.status).toBe('success');

  const formPage = await lb.to(a).fetch(finished.body.redirect_to);
  expect(formPage.status).toBe(200);
  const form = readPostForm(await formPage.text());
  expect(form.action).toBe(`${sp.entityId}/acs`);
  const { profile } = await spValidates(mfaSp, form);
  expect(profile?.issuer).toBe(`${a.url}/saml/metadata`);
  expect(decodeResponse(form)).toContain(`<saml:AuthnContextClassRef>${REFEDS_MFA}</saml:AuthnContextClassRef>`);
  const participants = await a.container.db.selectFrom('samlSessionParticipants').selectAll().where('accountId', '=', user.id).execute();
  expect(participants).toHaveLength(1);

  // Node 2 signed the user in; node 1 answers the next request from that session at once.
  const again = await land(lb.to(a), await mfaSp.getAuthorizeUrlAsync('relay-2', undefined, {}));
  if (again.kind !== 'form') throw new Error('the session made on node 2 should have been reused on node 1');
  expect((await spValidates(mfaSp, again.form)).profile?.nameID).toBe(profile?.nameID);
  expect(again.form.RelayState).toBe('relay-2');
  expect(lb.served).toEqual([
    'a /saml/sso',
    'b /interaction/:id/login',
    'a /interaction/:id',
    'b /interaction/:id/mfa/totp',
    'a /saml/sso/post/:id',
    'a /saml/sso',
  ]);
});

test('the replay cache is shared: a request used on one node is refused on the other', async () => {
  const url = await sp.sp.getAuthorizeUrlAsync('relay-1', undefined, {});
  const first = await new Browser().fetch(url);
  expect(first.status).toBe(303);
  const replayed = await new Browser().fetch(url.replace(a.url, b.url), { headers: { accept: 'application/json' } });
  expect(replayed.status).toBe(400);
  expect(await replayed.json()).toMatchObject({ error: 'invalid_request' });
  expect(replayed.headers.getSetCookie()).toEqual([]);
  expect(await refusalReason(b, replayed.headers.get('x-request-id')!)).toEqual({ reason: 'replayed' });
});

test('a SAML key rotated on node 1 signs on node 2 after its reload; the response verifies with the new metadata only', async () => {
  const before = await metadataCertificates(b);
  await a.container.samlKeyStore.rotate(3600);
  expect(await a.container.saml.reload()).toBe(true);
  expect(await b.container.saml.reload()).toBe(true);
  const after = await metadataCertificates(a);
  expect(after).toHaveLength(2);
  expect(after[1]).toBe(before[0]);
  expect(await metadataCertificates(b)).toEqual(after);

  const user = await newUser(a.url, 'saml-scale-rotate');
  const lb = balancedBrowser();
  const trustsNew = sp.make({ idpCert: after[0]! });
  const started = await land(lb.to(b), await trustsNew.getAuthorizeUrlAsync('relay-1', undefined, {}));
  if (started.kind !== 'interaction') throw new Error('expected a login');
  const login = await lb.to(b).json(`${started.url.href}/login`, { username: user.username, password: PASSWORD });
  expect(login.body.status).toBe('success');
  const page = await lb.to(b).fetch(login.body.redirect_to);
  const form = readPostForm(await page.text());

  await expect(spValidates(trustsNew, form)).resolves.toMatchObject({ profile: expect.objectContaining({ issuer: `${a.url}/saml/metadata` }) });
  const trustsOld = new SAML({
    issuer: sp.entityId,
    callbackUrl: `${sp.entityId}/acs`,
    audience: sp.entityId,
    idpCert: before[0]!,
    wantAssertionsSigned: true,
    validateInResponseTo: ValidateInResponseTo.never,
  });
  await expect(spValidates(trustsOld, form)).rejects.toThrow(/signature/i);
});
