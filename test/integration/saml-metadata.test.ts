/**
 * The SAML IdP's metadata and signing key: a schema-valid EntityDescriptor naming the entity ID,
 * endpoints and the certificate of the key stored (sealed) in PostgreSQL, the same on every node,
 * served with an ETag, and listing old and new certificates through a rotation. An SP library
 * written elsewhere (node-saml) trusts a response signed by the IdP with the certificate it read.
 */
import crypto from 'node:crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';
import { metadataSchemaErrors } from '../../src/saml/metadata-schema.js';
import { conditionalGet } from '../helpers/conditional-get.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

async function fetchMetadata(idp: TestIdp) {
  const res = await fetch(`${idp.url}/saml/metadata`);
  return { res, xml: await res.text() };
}

const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml');
const elements = (xml: string, ns: string, name: string) => Array.from(parse(xml).getElementsByTagNameNS(ns, name));
/** The signing certificates the metadata publishes, base64 DER, in document order. */
const certificates = (xml: string) =>
  elements(xml, MD, 'KeyDescriptor')
    .filter((k) => k.getAttribute('use') === 'signing')
    .map((k) => k.getElementsByTagNameNS(DS, 'X509Certificate')[0]!.textContent.replace(/\s+/g, ''));
const spki = (key: crypto.KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');
const certKey = (b64: string) => new crypto.X509Certificate(Buffer.from(b64, 'base64')).publicKey;

describe('SAML metadata and signing key', () => {
  let idp: TestIdp;
  let peer: TestIdp;

  beforeAll(async () => {
    idp = await startTestIdp('saml-meta');
    // A second node on the same schema: what a load balancer's other backend would serve.
    peer = await startTestIdp('saml-meta-peer', 'postgres+redis', { databaseSchema: idp.name, redisKeyPrefix: `${idp.name}:` });
  });
  afterAll(async () => {
    await peer.close();
    await idp.stop();
  });

  test('GET /saml/metadata: a schema-valid EntityDescriptor naming the entity ID, endpoints and NameID formats', async () => {
    const { res, xml } = await fetchMetadata(idp);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/samlmetadata\+xml/);

    expect(await metadataSchemaErrors(xml)).toEqual([]);

    const [entity] = elements(xml, MD, 'EntityDescriptor');
    expect(entity!.getAttribute('entityID')).toBe(`${idp.url}/saml/metadata`);
    const [descriptor] = elements(xml, MD, 'IDPSSODescriptor');
    expect(descriptor!.getAttribute('protocolSupportEnumeration')).toBe('urn:oasis:names:tc:SAML:2.0:protocol');
    expect(descriptor!.getAttribute('WantAuthnRequestsSigned')).toBe('false');
    const endpoints = (name: string) => elements(xml, MD, name).map((e) => [e.getAttribute('Binding'), e.getAttribute('Location')]);
    expect(endpoints('SingleSignOnService')).toEqual([
      [REDIRECT, `${idp.url}/saml/sso`],
      [POST, `${idp.url}/saml/sso`],
    ]);
    expect(endpoints('SingleLogoutService')).toEqual([
      [REDIRECT, `${idp.url}/saml/slo`],
      [POST, `${idp.url}/saml/slo`],
    ]);
    expect(elements(xml, MD, 'NameIDFormat').map((e) => e.textContent)).toEqual([
      'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
    ]);
  });

  test('the certificate is that of the stored key, whose private part is sealed at rest', async () => {
    const { xml } = await fetchMetadata(idp);
    const [published] = certificates(xml);
    const rows = await idp.container.db.selectFrom('samlSigningKeys').selectAll().execute();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.privateSealed).toMatch(/^v1\./);
    expect(row.privateSealed).not.toContain('PRIVATE KEY');
    const privateKey = crypto.createPrivateKey(idp.container.box.open(row.privateSealed));
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBeGreaterThanOrEqual(2048);
    // Neither the PEM nor the DER of the private key appears anywhere in the row.
    const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(JSON.stringify(row)).not.toContain(der.slice(40, 120));
    expect(spki(certKey(published!))).toBe(spki(crypto.createPublicKey(privateKey)));
    const cert = new crypto.X509Certificate(Buffer.from(published!, 'base64'));
    expect(cert.checkPrivateKey(privateKey)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
    expect(cert.subject).toBe(`CN=${new URL(idp.url).hostname}`);
  });

  test('two nodes on one database publish the same certificate; a restarted node keeps it', async () => {
    const ours = certificates((await fetchMetadata(idp)).xml);
    expect(certificates((await fetchMetadata(peer)).xml)).toEqual(ours);
    const again = await startTestIdp('saml-meta-again', 'postgres+redis', { databaseSchema: idp.name, redisKeyPrefix: `${idp.name}:` });
    try {
      expect(certificates((await fetchMetadata(again)).xml)).toEqual(ours);
    } finally {
      await again.close();
    }
    expect(await idp.container.db.selectFrom('samlSigningKeys').select('id').execute()).toHaveLength(1);
  });

  test('the metadata carries an ETag: a revalidation with it gets 304', async () => {
    const { res } = await fetchMetadata(idp);
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    expect(res.headers.get('cache-control')).toContain('max-age');
    expect(await conditionalGet(`${idp.url}/saml/metadata`, etag!)).toBe(304);
    expect(await conditionalGet(`${idp.url}/saml/metadata`, '"another"')).toBe(200);
  });

  const ACS = 'https://sp.example.test/acs';
  const SP_ENTITY = 'https://sp.example.test/metadata';
  /** A login response from the IdP's current key, as the SSO endpoint would post it. */
  const signedResponse = async (node: TestIdp) => {
    const sp = samlify.ServiceProvider({ entityID: SP_ENTITY, assertionConsumerService: [{ Binding: POST, Location: ACS }], wantAssertionsSigned: true });
    const { context } = (await node.container.saml.current.idp.createLoginResponse(sp, { extract: { request: { id: '_req-1' } } }, 'post', {
      email: 'meta@example.test',
    })) as { context: string };
    return context;
  };
  /** node-saml as the SP, trusting the given certificates (base64 DER, as read from the metadata). */
  const nodeSamlAccepts = async (node: TestIdp, trusted: string[], samlResponse: string) => {
    const sp = new SAML({
      callbackUrl: ACS,
      entryPoint: `${node.url}/saml/sso`,
      issuer: SP_ENTITY,
      audience: SP_ENTITY,
      idpCert: trusted,
      idpIssuer: `${node.url}/saml/metadata`,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.never,
    });
    return (await sp.validatePostResponseAsync({ SAMLResponse: samlResponse })).profile?.nameID;
  };

  test('node-saml, trusting the certificate from the metadata, accepts a response the IdP signed', async () => {
    const published = certificates((await fetchMetadata(peer)).xml);
    await expect(nodeSamlAccepts(idp, published, await signedResponse(idp))).resolves.toBe('meta@example.test');
  });

  test('rotation: the new key signs, the metadata lists new and old certificates until the old one retires, on every node', async () => {
    const before = certificates((await fetchMetadata(idp)).xml);
    const etagBefore = (await fetchMetadata(idp)).res.headers.get('etag');
    const oldResponse = await signedResponse(idp);

    await idp.container.samlKeyStore.rotate(3600);
    expect(await idp.container.saml.reload()).toBe(true);
    expect(await idp.container.saml.reload()).toBe(false); // nothing changed since
    expect(await peer.container.saml.reload()).toBe(true);

    const { res, xml } = await fetchMetadata(idp);
    const after = certificates(xml);
    expect(after).toHaveLength(2);
    expect(after[1]).toBe(before[0]);
    expect(after[0]).not.toBe(before[0]);
    expect(res.headers.get('etag')).not.toBe(etagBefore);
    expect(certificates((await fetchMetadata(peer)).xml)).toEqual(after);

    // Responses are now signed by the new key: only its certificate verifies them; the old certificate still verifies older ones.
    const newResponse = await signedResponse(peer);
    await expect(nodeSamlAccepts(idp, [after[0]!], newResponse)).resolves.toBe('meta@example.test');
    await expect(nodeSamlAccepts(idp, [before[0]!], newResponse)).rejects.toThrow(/signature/i);
    await expect(nodeSamlAccepts(idp, after, oldResponse)).resolves.toBe('meta@example.test');

    // Once its overlap has passed, a certificate leaves the metadata; one retired earlier keeps its own, later date.
    const newest = await idp.container.samlKeyStore.rotate(1);
    expect(newest).toEqual(expect.any(String));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await idp.container.saml.reload()).toBe(true);
    const later = certificates((await fetchMetadata(idp)).xml);
    expect(later).toHaveLength(2);
    expect(later).not.toContain(after[0]);
    expect(later[1]).toBe(before[0]);
  });
});
