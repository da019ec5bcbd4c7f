/**
 * SAML service providers registered from their metadata through the admin API: the parsed facts
 * come back (endpoints, signing flags, certificate fingerprints), and every document the IdP must
 * not act on (entities, oversized, not an SP, no POST ACS, unsafe ACS URL, broken certificate) is
 * refused with a 400 naming the problem and nothing stored.
 */
import { SAML } from '@node-saml/node-saml';
import { X509Certificate } from 'node:crypto';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { selfSigned } from '../helpers/saml-sp.js';

let idp: TestIdp;
let readKey: string;
let writeKey: string;
let otherOrgKey: string;
let signing: { pem: string; key: string };
let encryption: { pem: string; key: string };

const api = apiClient(() => idp.url);
const SPS = '/saml/service-providers';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const certBody = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');

/** Metadata from an SP implementation nobody here wrote. */
function nodeSamlMetadata(entityId: string, withCerts = true): string {
  const saml = new SAML({
    issuer: entityId,
    callbackUrl: `${entityId}/acs`,
    logoutCallbackUrl: `${entityId}/slo`,
    entryPoint: 'https://idp.example/sso',
    idpCert: signing.pem,
    ...(withCerts ? { decryptionPvk: encryption.key, privateKey: signing.key } : {}),
  });
  return withCerts ? saml.generateServiceProviderMetadata(encryption.pem, signing.pem) : saml.generateServiceProviderMetadata(null, null);
}

interface HandOptions {
  entityId?: string;
  acs?: { binding: string; location: string }[];
  keyDescriptors?: string;
  descriptor?: string;
  prolog?: string;
}

/** Metadata written by hand, so each test can break exactly one thing. */
function handMetadata(o: HandOptions = {}): string {
  const acs = o.acs ?? [
    { binding: REDIRECT, location: 'https://sp.hand.example/acs-redirect' },
    { binding: POST, location: 'https://sp.hand.example/acs' },
  ];
  const descriptor = o.descriptor ?? 'SPSSODescriptor';
  const endpoints =
    descriptor === 'SPSSODescriptor'
      ? `<md:SingleLogoutService Binding="${REDIRECT}" Location="https://sp.hand.example/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    ${acs.map((a, i) => `<md:AssertionConsumerService index="${i}" Binding="${a.binding}" Location="${a.location}"/>`).join('\n    ')}`
      : `<md:SingleSignOnService Binding="${REDIRECT}" Location="https://idp.hand.example/sso"/>`;
  return `${o.prolog ?? '<?xml version="1.0" encoding="UTF-8"?>'}
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${o.entityId ?? 'https://sp.hand.example'}">
  <md:${descriptor} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" ${descriptor === 'SPSSODescriptor' ? 'AuthnRequestsSigned="true" WantAssertionsSigned="false"' : ''}>
    ${o.keyDescriptors ?? `<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(signing.pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`}
    ${endpoints}
  </md:${descriptor}>
</md:EntityDescriptor>`;
}

const count = async () => (await api('GET', `${SPS}?limit=100`)).body.service_providers.length as number;
const auditTypes = async (subject: string) =>
  (await idp.container.db.selectFrom('auditEvents').select('type').where('subject', '=', subject).orderBy('id').execute()).map((r) => r.type);

beforeAll(async () => {
  idp = await startTestIdp('saml-service-providers');
  readKey = (await idp.container.apiKeys.create('reader', ['idp:read'])).key;
  writeKey = (await idp.container.apiKeys.create('writer', ['idp:read', 'idp:write'])).key;
  const org = await api('POST', '/organizations', { slug: 'saml-other' });
  otherOrgKey = (await idp.container.apiKeys.create('other-org', ['admin'], org.body.organization.id)).key;
  signing = await selfSigned('sp signing');
  encryption = await selfSigned('sp encryption');
});
afterAll(async () => {
  await idp.stop();
});

describe('registration', () => {
  test('node-saml metadata → 201 with its endpoints, flags and certificate fingerprints; readable, listed and audited', async () => {
    const metadata = nodeSamlMetadata('https://sp.node-saml.example');
    const r = await api('POST', SPS, { metadata, attribute_mapping: { mail: 'email', groups: 'roles' }, encrypt_assertions: true });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      entity_id: 'https://sp.node-saml.example',
      acs_endpoints: [{ binding: POST, location: 'https://sp.node-saml.example/acs', index: 1, is_default: true }],
      slo_endpoints: [{ binding: POST, location: 'https://sp.node-saml.example/slo' }],
      authn_requests_signed: true,
      want_assertions_signed: true,
      signing_certificates: [{ fingerprint_sha256: fingerprint(signing.pem), subject: 'CN=sp signing', not_after: expect.any(String) }],
      encryption_certificates: [{ fingerprint_sha256: fingerprint(encryption.pem), subject: 'CN=sp encryption', not_after: expect.any(String) }],
      name_id_format: 'persistent',
      attribute_mapping: { mail: 'email', groups: 'roles' },
      sign_assertions: true,
      encrypt_assertions: true,
      enabled: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await api('GET', `${SPS}/${r.body.id}`, undefined, readKey)).body).toEqual(r.body);
    expect((await api('GET', SPS, undefined, readKey)).body.service_providers).toContainEqual(r.body);

    const row = await idp.container.db.selectFrom('samlServiceProviders').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
    expect(row.metadata).toBe(metadata);
    expect(row.signingCertificates.map(fingerprint)).toEqual([fingerprint(signing.pem)]);
    expect(await auditTypes(r.body.id)).toEqual(['admin.saml_sp.created']);
  });

  test('hand-written metadata: only the ACS list as written, a certificate without `use` serves both purposes, email NameID', async () => {
    const r = await api('POST', SPS, { metadata: handMetadata(), name_id_format: 'email', sign_assertions: false });
    expect(r.status).toBe(201);
    expect(r.body.acs_endpoints).toEqual([
      { binding: REDIRECT, location: 'https://sp.hand.example/acs-redirect', index: 0, is_default: false },
      { binding: POST, location: 'https://sp.hand.example/acs', index: 1, is_default: false },
    ]);
    expect(r.body).toMatchObject({
      authn_requests_signed: true,
      want_assertions_signed: false,
      name_id_format: 'email',
      sign_assertions: false,
      attribute_mapping: {},
    });
    expect(r.body.signing_certificates.map((c: { fingerprint_sha256: string }) => c.fingerprint_sha256)).toEqual([fingerprint(signing.pem)]);
    expect(r.body.encryption_certificates.map((c: { fingerprint_sha256: string }) => c.fingerprint_sha256)).toEqual([fingerprint(signing.pem)]);
    await api('DELETE', `${SPS}/${r.body.id}`);
  });

  test('an ACS on http://localhost or http://127.0.0.1 is accepted for development', async () => {
    for (const location of ['http://localhost:8080/acs', 'http://127.0.0.1/acs']) {
      const r = await api('POST', SPS, { metadata: handMetadata({ entityId: `https://dev.example/${location.length}`, acs: [{ binding: POST, location }] }) });
      expect(r.status).toBe(201);
      await api('DELETE', `${SPS}/${r.body.id}`);
    }
  });
});

describe('refused metadata: 400 naming the problem, nothing stored', () => {
  const cases: [string, () => string, string][] = [
    [
      'DOCTYPE with an external entity (XXE)',
      () =>
        handMetadata({ prolog: '<?xml version="1.0"?>\n<!DOCTYPE md:EntityDescriptor [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' }).replace(
          'https://sp.hand.example/slo',
          '&xxe;',
        ),
      'metadata: a DOCTYPE or entity declaration is not allowed',
    ],
    [
      'billion laughs',
      () =>
        handMetadata({
          prolog: `<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`,
        }).replace('https://sp.hand.example/slo', '&lol9;'),
      'metadata: a DOCTYPE or entity declaration is not allowed',
    ],
    [
      'oversized',
      () => handMetadata().replace('</md:EntityDescriptor>', `<!--${'x'.repeat(50_000)}--></md:EntityDescriptor>`),
      'metadata: larger than 49152 bytes',
    ],
    ['not XML', () => '{"entityID": "https://sp.example"}', 'metadata: not well-formed XML'],
    ['truncated XML', () => handMetadata().slice(0, 300), 'metadata: not well-formed XML'],
    ['an IDPSSODescriptor instead of an SP', () => handMetadata({ descriptor: 'IDPSSODescriptor' }), 'metadata: no SPSSODescriptor'],
    [
      'an EntitiesDescriptor',
      () => `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${handMetadata().replace(/^<\?xml[^>]*>/, '')}</md:EntitiesDescriptor>`,
      'metadata: the root element must be one md:EntityDescriptor',
    ],
    [
      'schema-invalid (ACS without Location)',
      () => handMetadata().replace(/ Location="https:\/\/sp.hand.example\/acs"/, ''),
      'metadata: not valid against saml-schema-metadata-2.0.xsd',
    ],
    [
      'no ACS with the HTTP-POST binding',
      () => handMetadata({ acs: [{ binding: REDIRECT, location: 'https://sp.hand.example/acs' }] }),
      'metadata: no AssertionConsumerService with the HTTP-POST binding',
    ],
    [
      'a javascript: ACS Location',
      () => handMetadata({ acs: [{ binding: POST, location: 'javascript:alert(1)' }] }),
      'metadata: AssertionConsumerService Location "javascript:alert(1)" is not an https URL',
    ],
    [
      'an http://evil ACS Location',
      () => handMetadata({ acs: [{ binding: POST, location: 'http://evil.example/acs' }] }),
      'metadata: AssertionConsumerService Location "http://evil.example/acs" is not an https URL',
    ],
    [
      'an unsafe ACS beside a good one',
      () =>
        handMetadata({
          acs: [
            { binding: POST, location: 'https://sp.hand.example/acs' },
            { binding: POST, location: 'http://evil.example/acs' },
          ],
        }),
      'metadata: AssertionConsumerService Location "http://evil.example/acs"',
    ],
    [
      'an http://evil SingleLogoutService Location',
      () => handMetadata().replace('https://sp.hand.example/slo', 'http://evil.example/slo'),
      'metadata: SingleLogoutService Location "http://evil.example/slo" is not an https URL',
    ],
    [
      'a broken certificate',
      () =>
        handMetadata({
          keyDescriptors: `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(signing.pem).slice(0, 400)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
        }),
      'metadata: a signing KeyDescriptor holds an X509Certificate that is not a valid certificate',
    ],
  ];

  test.each(cases)('%s', async (_name, make, description) => {
    const before = await count();
    const r = await api('POST', SPS, { metadata: make() });
    expectJsonError(r, 400, 'invalid_request');
    expect(r.body.error_description.startsWith(description)).toBe(true);
    expect(await count()).toBe(before);
  });

  test('bad settings: unknown user field, unknown NameID format, encryption without an encryption certificate, unsigned assertions the SP wants signed', async () => {
    const before = await count();
    const metadata = nodeSamlMetadata('https://sp.settings.example', false);
    expectJsonError(await api('POST', SPS, { metadata, attribute_mapping: { pw: 'password_hash' } }), 400, 'invalid_request', 'attribute_mapping.pw');
    expectJsonError(await api('POST', SPS, { metadata, name_id_format: 'unspecified' }), 400, 'invalid_request', 'name_id_format');
    expectJsonError(await api('POST', SPS, { metadata, encrypt_assertions: true }), 400, 'invalid_request', 'encrypt_assertions');
    expectJsonError(await api('POST', SPS, { metadata, sign_assertions: false }), 400, 'invalid_request', 'sign_assertions');
    expectJsonError(await api('POST', SPS, { metadata: 42 }), 400, 'invalid_request', 'metadata');
    expectJsonError(await api('POST', SPS, {}), 400, 'invalid_request', 'metadata');
    expectJsonError(await api('POST', SPS, { metadata: `${metadata}\u0000` }), 400, 'invalid_request', 'metadata');
    expect(await count()).toBe(before);
  });

  test('a body past the JSON limit → 413', async () => {
    const r = await api('POST', SPS, { metadata: handMetadata().replace('</md:EntityDescriptor>', `<!--${'x'.repeat(300_000)}--></md:EntityDescriptor>`) });
    expectJsonError(r, 413);
  });
});

describe('update, conflicts and deletion', () => {
  test('a duplicate entity ID → 409; PATCH replaces the metadata but cannot take another SP’s entity ID; DELETE → 204', async () => {
    const a = await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.a.example', false) });
    const b = await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.b.example', false) });
    expect([a.status, b.status]).toEqual([201, 201]);
    const before = await count();
    expectJsonError(await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.a.example', false) }), 409, 'conflict');
    expect(await count()).toBe(before);

    expectJsonError(await api('PATCH', `${SPS}/${b.body.id}`, { metadata: nodeSamlMetadata('https://sp.a.example', false) }), 409, 'conflict');
    expect((await api('GET', `${SPS}/${b.body.id}`)).body.entity_id).toBe('https://sp.b.example');

    const patched = await api('PATCH', `${SPS}/${b.body.id}`, {
      metadata: nodeSamlMetadata('https://sp.b2.example'),
      name_id_format: 'transient',
      attribute_mapping: { uid: 'username' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id: b.body.id,
      entity_id: 'https://sp.b2.example',
      acs_endpoints: [{ binding: POST, location: 'https://sp.b2.example/acs', index: 1, is_default: true }],
      name_id_format: 'transient',
      attribute_mapping: { uid: 'username' },
      authn_requests_signed: true,
    });
    expect(patched.body.signing_certificates).toHaveLength(1);
    // Settings alone keep the metadata; a bad new document changes nothing.
    expect((await api('PATCH', `${SPS}/${b.body.id}`, { sign_assertions: true })).body.entity_id).toBe('https://sp.b2.example');
    expectJsonError(
      await api('PATCH', `${SPS}/${b.body.id}`, { metadata: handMetadata({ descriptor: 'IDPSSODescriptor' }) }),
      400,
      'invalid_request',
      'metadata: no SPSSODescriptor',
    );
    expect((await api('GET', `${SPS}/${b.body.id}`)).body).toMatchObject({ entity_id: 'https://sp.b2.example', name_id_format: 'transient' });

    const del = await api('DELETE', `${SPS}/${b.body.id}`);
    expect(del.status).toBe(204);
    expectJsonError(await api('GET', `${SPS}/${b.body.id}`), 404, 'not_found');
    expectJsonError(await api('DELETE', `${SPS}/${b.body.id}`), 404, 'not_found');
    expectJsonError(await api('GET', `${SPS}/not-a-uuid`), 400, 'invalid_request', 'id');
    expect(await auditTypes(b.body.id)).toEqual(['admin.saml_sp.created', 'admin.saml_sp.updated', 'admin.saml_sp.updated', 'admin.saml_sp.deleted']);
    // The entity ID is free again once deleted.
    const again = await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.b2.example', false) });
    expect(again.status).toBe(201);
  });
});

describe('scopes and organisations', () => {
  test('no key → 401; idp:read reads but cannot write; idp:write is not enough to write (admin only)', async () => {
    const metadata = nodeSamlMetadata('https://sp.scopes.example', false);
    expectJsonError(await api('GET', SPS, undefined, null), 401, 'invalid_token');
    expectJsonError(await api('POST', SPS, { metadata }, null), 401, 'invalid_token');
    expect((await api('GET', SPS, undefined, readKey)).status).toBe(200);
    const before = await count();
    expectJsonError(await api('POST', SPS, { metadata }, readKey), 403, 'insufficient_scope');
    expectJsonError(await api('POST', SPS, { metadata }, writeKey), 403, 'insufficient_scope');
    expect(await count()).toBe(before);

    const sp = await api('POST', SPS, { metadata });
    expectJsonError(await api('PATCH', `${SPS}/${sp.body.id}`, { name_id_format: 'email' }, readKey), 403, 'insufficient_scope');
    expectJsonError(await api('DELETE', `${SPS}/${sp.body.id}`, undefined, writeKey), 403, 'insufficient_scope');
    expect((await api('GET', `${SPS}/${sp.body.id}`, undefined, readKey)).body.name_id_format).toBe('persistent');
  });

  test('a key bound to another organisation neither sees nor changes this one’s SPs', async () => {
    const sp = await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.org.example', false) });
    expectJsonError(await api('GET', `${SPS}/${sp.body.id}`, undefined, otherOrgKey), 404, 'not_found');
    expectJsonError(await api('PATCH', `${SPS}/${sp.body.id}`, { name_id_format: 'email' }, otherOrgKey), 404, 'not_found');
    expectJsonError(await api('DELETE', `${SPS}/${sp.body.id}`, undefined, otherOrgKey), 404, 'not_found');
    expect((await api('GET', SPS, undefined, otherOrgKey)).body.service_providers).toEqual([]);
    const own = await api('POST', SPS, { metadata: nodeSamlMetadata('https://sp.other-org.example', false) }, otherOrgKey);
    expect(own.status).toBe(201);
    expect((await api('GET', SPS, undefined, otherOrgKey)).body.service_providers.map((s: { id: string }) => s.id)).toEqual([own.body.id]);
  });
});
