/**
 * SAML Responses for a finished login, checked by an SP implementation nobody here wrote
 * (@node-saml/node-saml): both signatures, audience, InResponseTo (from node-saml's own AuthnRequest
 * cache) or its absence, the NameID formats, mapped and escaped attributes, the context class,
 * encryption to the SP, and a signed NoAuthnContext status. Every message is also schema-valid.
 */
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { inflateRawSync } from 'node:zlib';
import { validateSamlMessage } from '../../src/saml/schema-validator.js';
import { samlUserOf, type SamlLoginInput } from '../../src/saml/response.js';
import { createHash } from 'node:crypto';
import { cspSources } from '../../src/lib/csp.js';
import { allowPostForm, postFormPage } from '../../src/saml/post-form.js';
import { createSamlServiceProviderRepository } from '../../src/store/repositories/saml-service-provider.repository.js';
import type { SamlServiceProvider } from '../../src/store/repositories/saml-service-provider.repository.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient } from '../helpers/api.js';
import { selfSigned } from '../helpers/saml-sp.js';

let idp: TestIdp;
let idpCert: string;
let spKeys: { signing: { pem: string; key: string }; encryption: { pem: string; key: string } };
const api = apiClient(() => idp.url);

const acsOf = (entityId: string) => `${entityId}/acs`;
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

/** node-saml as the SP, configured as a careful SP is: both signatures wanted, audience pinned. */
function nodeSaml(entityId: string, extra: Partial<SamlConfig> = {}) {
  return new SAML({
    issuer: entityId,
    callbackUrl: acsOf(entityId),
    audience: entityId,
    entryPoint: `${idp.url}/saml/sso`,
    idpCert,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    decryptionPvk: spKeys.encryption.key,
    privateKey: spKeys.signing.key,
    ...extra,
  });
}

async function registerSp(entityId: string, settings: Record<string, unknown> = {}): Promise<SamlServiceProvider> {
  const metadata = nodeSaml(entityId).generateServiceProviderMetadata(spKeys.encryption.pem, spKeys.signing.pem);
  const r = await api('POST', '/saml/service-providers', { metadata, ...settings });
  expect(r.status).toBe(201);
  return (await createSamlServiceProviderRepository(idp.container.db).find(r.body.id))!;
}

async function createUser(user: Record<string, unknown>) {
  const r = await api('POST', '/users', { user });
  expect(r.status).toBe(201);
  const id = (r.body.user?.id ?? r.body.id) as string;
  return samlUserOf(await idp.container.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

/** The ID of an AuthnRequest node-saml made and remembers, read from its Redirect-binding URL. */
async function authnRequestId(sp: SAML): Promise<string> {
  const url = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  return /\sID="([^"]+)"/.exec(xml)![1]!;
}

let alice: Awaited<ReturnType<typeof createUser>>;
let spA: SamlServiceProvider;
let spB: SamlServiceProvider;

const now = () => Math.floor(Date.now() / 1000);
const login = (sp: SamlServiceProvider, over: Partial<SamlLoginInput> = {}) =>
  idp.container.samlResponses.login({
    sp,
    acsUrl: acsOf(sp.entityId),
    user: alice,
    authn: { authTime: now() - 30, acr: 'aal1' },
    sessionIndex: 'session-1',
    sessionNotOnOrAfter: now() + 3600,
    ...over,
  });

beforeAll(async () => {
  idp = await startTestIdp('saml-response');
  idpCert = (await idp.container.samlKeyStore.load()).signing.certificate;
  spKeys = { signing: await selfSigned('sp signing'), encryption: await selfSigned('sp encryption') };
  alice = await createUser({ external_id: 'alice-ext', username: 'alice', email: 'alice@example.com', roles: ['staff', 'admin.read'] });
  spA = await registerSp('https://sp-a.example', { attribute_mapping: { mail: 'email', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7': 'roles', uid: 'username' } });
  spB = await registerSp('https://sp-b.example');
});
afterAll(async () => {
  await idp.stop();
});

describe('solicited response', () => {
  test('node-saml accepts it against its own AuthnRequest: both signatures, audience, InResponseTo, NameID, attributes, times', async () => {
    const sp = nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.always });
    const requestId = await authnRequestId(sp);
    const authTime = now() - 30;
    const sessionNotOnOrAfter = now() + 3600;
    const { samlResponse } = await login(spA, { inResponseTo: requestId, authn: { authTime, acr: 'aal1' }, sessionNotOnOrAfter });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse });
    expect(profile).toMatchObject({
      issuer: `${idp.url}/saml/metadata`,
      inResponseTo: requestId,
      nameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      nameID: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      sessionIndex: 'session-1',
      mail: 'alice@example.com',
      uid: 'alice',
      'urn:oid:1.3.6.1.4.1.5923.1.1.1.7': ['staff', 'admin.read'],
    });

    const xml = decode(samlResponse);
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
    // Two signatures: the Response's (over its root) and the Assertion's, RSA-SHA256 with exclusive c14n.
    expect(xml.match(/<ds:SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"\/>/g)).toHaveLength(2);
    expect(xml.match(/<ds:CanonicalizationMethod Algorithm="http:\/\/www\.w3\.org\/2001\/10\/xml-exc-c14n#"\/>/g)).toHaveLength(2);
    expect(xml).toMatch(/<samlp:Response [^>]*Destination="https:\/\/sp-a\.example\/acs"/);
    expect(xml).toMatch(new RegExp(`<samlp:Response [^>]*InResponseTo="${requestId}"`));
    expect(xml).toMatch(new RegExp(`<saml:SubjectConfirmationData NotOnOrAfter="[^"]+" Recipient="https://sp-a.example/acs" InResponseTo="${requestId}"/>`));
    expect(xml).toContain('<saml:Audience>https://sp-a.example</saml:Audience>');
    const at = (name: string) => Date.parse(new RegExp(`${name}="([^"]+)"`).exec(xml)![1]!) / 1000;
    expect(at('AuthnInstant')).toBe(authTime);
    expect(at('SessionNotOnOrAfter')).toBe(sessionNotOnOrAfter);
    expect(at('NotBefore')).toBeGreaterThanOrEqual(now() - 62);
    expect(at('NotBefore')).toBeLessThanOrEqual(now() - 58);
    expect(at('NotOnOrAfter') - at('NotBefore')).toBe(360);
  });

  test('node-saml refuses a response to a request it never made', async () => {
    const sp = nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.always });
    await authnRequestId(sp);
    const { samlResponse } = await login(spA, { inResponseTo: '_never-asked-for' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: samlResponse })).rejects.toThrow(/InResponseTo/i);
  });

  test('an ACS URL the SP metadata does not list is refused before anything is signed', async () => {
    await expect(login(spA, { acsUrl: 'https://evil.example/acs' })).rejects.toThrow(/not an HTTP-POST AssertionConsumerService/);
  });
});

describe('unsolicited (IdP-initiated) response', () => {
  test('carries no InResponseTo at all, is schema-valid and node-saml accepts it', async () => {
    const { samlResponse } = await login(spA);
    const xml = decode(samlResponse);
    expect(xml).not.toContain('InResponseTo');
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
    const { profile } = await nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.ifPresent }).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    });
    expect(profile?.mail).toBe('alice@example.com');
  });
});

describe('NameID', () => {
  const nameIdAt = async (sp: SamlServiceProvider, user = alice) => {
    const { samlResponse } = await login(sp, { user });
    const { profile } = await nodeSaml(sp.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    });
    return { id: profile!.nameID, format: profile!.nameIDFormat };
  };

  test('persistent: the same for the same user and SP, different for another SP and another user', async () => {
    const first = await nameIdAt(spA);
    expect(await nameIdAt(spA)).toEqual(first);
    expect((await nameIdAt(spB)).id).not.toBe(first.id);
    const bob = await createUser({ external_id: 'bob-ext', email: 'bob@example.com' });
    expect((await nameIdAt(spA, bob)).id).not.toBe(first.id);
    expect(first.id).not.toContain(alice.id);
  });

  test('email: the user email address', async () => {
    const sp = await registerSp('https://sp-email.example', { name_id_format: 'email' });
    expect(await nameIdAt(sp)).toEqual({ id: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
  });

  test('email for a user without an email address: refused, nothing built', async () => {
    const sp = await registerSp('https://sp-email-less.example', { name_id_format: 'email' });
    const carol = await createUser({ external_id: 'carol-ext' });
    await expect(login(sp, { user: carol })).rejects.toThrow(/no email address/);
  });

  test('transient: new on every response', async () => {
    const sp = await registerSp('https://sp-transient.example', { name_id_format: 'transient' });
    const [a, b] = [await nameIdAt(sp), await nameIdAt(sp)];
    expect(a.format).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:transient');
    expect(a.id).not.toBe(b.id);
  });
});

describe('attributes', () => {
  test('markup in user data stays text: no extra AttributeValue, the values arrive exactly as stored', async () => {
    const injection = '</saml:AttributeValue><saml:AttributeValue>admin';
    const external = `a<b & "c" '{Audience}'`;
    const mallory = await createUser({ external_id: external, username: injection, email: 'mallory@example.com', roles: ['staff'] });
    const sp = await registerSp('https://sp-attrs.example', { attribute_mapping: { uid: 'username', ext: 'external_id', 'role"s': 'roles' } });
    const { samlResponse } = await login(sp, { user: mallory });
    const xml = decode(samlResponse);
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
    expect(xml.match(/<saml:AttributeValue /g)).toHaveLength(3);
    const { profile } = await nodeSaml(sp.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    });
    expect(profile?.uid).toBe(injection);
    expect(profile?.ext).toBe(external);
    expect(profile?.['role"s']).toBe('staff');
  });

  test('a tampered attribute value fails node-saml signature check', async () => {
    const { samlResponse } = await login(spA);
    const tampered = encode(decode(samlResponse).replace('>alice<', '>root<'));
    expect(tampered).not.toBe(samlResponse);
    await expect(
      nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({ SAMLResponse: tampered }),
    ).rejects.toThrow(/signature/i);
  });
});

describe('authentication context', () => {
  const classRef = async (acr: 'aal1' | 'aal2' | 'aal3') => {
    const { samlResponse } = await login(spA, { authn: { authTime: now(), acr } });
    const { profile } = await nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    });
    return /<saml:AuthnContextClassRef>([^<]+)</.exec(profile!.getAssertionXml!())![1];
  };

  test('password alone: PasswordProtectedTransport; after MFA: the REFEDS MFA profile', async () => {
    expect(await classRef('aal1')).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
    expect(await classRef('aal2')).toBe('https://refeds.org/profile/mfa');
    expect(await classRef('aal3')).toBe('https://refeds.org/profile/mfa');
  });
});

describe('encrypted assertion', () => {
  test('the assertion is encrypted to the SP (AES-256-GCM), still signed inside, and node-saml decrypts and accepts it', async () => {
    const sp = await registerSp('https://sp-enc.example', { encrypt_assertions: true, attribute_mapping: { mail: 'email' } });
    const { samlResponse } = await login(sp);
    const xml = decode(samlResponse);
    expect(xml).toContain('EncryptedAssertion');
    expect(xml).toContain('http://www.w3.org/2009/xmlenc11#aes256-gcm');
    expect(xml).not.toContain('alice@example.com');
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
    const { profile } = await nodeSaml(sp.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    });
    expect(profile?.mail).toBe('alice@example.com');
  });
});

describe('NoAuthnContext status', () => {
  test('a signed Response with Responder/NoAuthnContext and no assertion; node-saml verifies and reports the status', async () => {
    const sp = nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.always });
    const requestId = await authnRequestId(sp);
    const { samlResponse } = idp.container.samlResponses.status({ sp: spA, acsUrl: acsOf(spA.entityId), inResponseTo: requestId, status: 'NoAuthnContext' });
    const xml = decode(samlResponse);
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
    expect(xml).not.toContain('Assertion');
    expect(xml).toContain(
      '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"/>',
    );
    expect(xml).toContain('<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>');
    await expect(sp.validatePostResponseAsync({ SAMLResponse: samlResponse })).rejects.toThrow(/NoAuthnContext/);
    const tampered = encode(xml.replace('NoAuthnContext', 'AuthnFailed'));
    await expect(
      nodeSaml(spA.entityId, { validateInResponseTo: ValidateInResponseTo.never }).validatePostResponseAsync({ SAMLResponse: tampered }),
    ).rejects.toThrow(/signature/i);
  });
});

describe('auto-posting form', () => {
  test('posts SAMLResponse and RelayState to the ACS, every value escaped, with a button for pages without script', () => {
    const html = postFormPage({ acsUrl: 'https://sp-a.example/acs?a=1&b=2', samlResponse: 'PHNhbWw+', relayState: '"><script>alert(1)</script>' });
    expect(html).toContain('<form method="post" action="https://sp-a.example/acs?a=1&amp;b=2">');
    expect(html).toContain('<input type="hidden" name="SAMLResponse" value="PHNhbWw+">');
    expect(html).toContain('<input type="hidden" name="RelayState" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">');
    expect(html).toContain('<button type="submit">');
    expect(html).not.toContain('name="RelayState" value=""');
    expect(postFormPage({ acsUrl: 'https://sp-a.example/acs', samlResponse: 'x' })).not.toContain('RelayState');
  });

  test("the page's Content-Security-Policy additions allow exactly its inline script and the ACS origin as form target", () => {
    const html = postFormPage({ acsUrl: 'https://sp-a.example/acs', samlResponse: 'x' });
    const scripts = [...html.matchAll(/<script>([^<]*)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const res = {};
    allowPostForm(res, 'https://sp-a.example/acs');
    expect(cspSources(res, 'script-src')).toEqual([`'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`]);
    expect(cspSources(res, 'form-action')).toEqual(['https://sp-a.example']);
  });
});
