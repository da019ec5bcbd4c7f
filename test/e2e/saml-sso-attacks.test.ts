/**
 * Attacks on the SAML SSO endpoints, through the real HTTP routes with node-saml as the SP: what
 * the browser gets back, what is audited, and what is left behind. A refused AuthnRequest gets a
 * 400 (JSON or the HTML error page), a `saml.request.refused` audit event naming the reason, no
 * SAMLResponse or form to anywhere, no login, no session participant and no cookie.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { validateSamlMessage } from '../../src/saml/schema-validator.js';
import { ADMIN_KEY, startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { Browser, decodeResponse, land, readPostForm, registerSamlSp, signInAt, spValidates, ssoRedirect, type SamlSp } from '../helpers/saml-flow.js';
import { selfSigned } from '../helpers/saml-sp.js';

const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const EVIL_ACS = 'https://evil.example/acs';

let idp: TestIdp;
let sso: string;
let signed: SamlSp;
let attacker: { pem: string; key: string };

beforeAll(async () => {
  idp = await startTestIdp('saml-attacks', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  sso = `${idp.url}/saml/sso`;
  signed = await registerSamlSp(idp.url, 'https://sp-signed.example');
  attacker = await selfSigned('attacker');
});
afterAll(async () => {
  await idp.stop();
});

const participants = async () => (await idp.container.db.selectFrom('samlSessionParticipants').select('sessionKey').execute()).length;
const refusalsOf = async (requestId: string) =>
  (await idp.container.db.selectFrom('auditEvents').selectAll().where('requestId', '=', requestId).where('type', '=', 'saml.request.refused').execute()).map(
    (e) => (e.data as { reason?: string }).reason,
  );

/**
 * Sends one hostile request and proves it was refused and left nothing behind: a 400 error, never a
 * form or a redirect, no cookie set, no session participant written, and the refusal audited with `reasons`.
 */
async function expectRefused(send: (browser: Browser) => Promise<Response>, ...reasons: string[]): Promise<Response> {
  const before = await participants();
  const browser = new Browser();
  const res = await send(browser);
  const body = await res.text();
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.getSetCookie()).toEqual([]);
  expect(body).not.toContain('SAMLResponse');
  expect(body).not.toContain('<form');
  expect(await participants()).toBe(before);
  const audited = await refusalsOf(res.headers.get('x-request-id')!);
  expect(audited).toHaveLength(1);
  expect(reasons).toContain(audited[0]);
  return res;
}

const get =
  (url: string, accept = 'text/html') =>
  (browser: Browser) =>
    browser.fetch(url, { headers: { accept } });
const postForm =
  (fields: Record<string, string | string[]>, accept = 'text/html') =>
  (browser: Browser) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
    return browser.fetch(sso, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', accept } });
  };

/** An AuthnRequest written by hand, so a test can set exactly the field it attacks. */
function handRequest(o: { id?: string; issuer?: string; instant?: string; destination?: string; acs?: string; prolog?: string; extra?: string } = {}) {
  const acs = o.acs ? ` AssertionConsumerServiceURL="${o.acs}"` : '';
  return `${o.prolog ?? '<?xml version="1.0" encoding="UTF-8"?>'}
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? `_${crypto.randomUUID()}`}" Version="2.0" IssueInstant="${o.instant ?? new Date().toISOString()}" Destination="${o.destination ?? sso}"${acs}><saml:Issuer>${o.issuer ?? signed.entityId}${o.extra ?? ''}</saml:Issuer></samlp:AuthnRequest>`;
}

/** The HTTP-Redirect URL of `xml`, signed over the octets exactly as sent (SAML Bindings §3.4.4.1) with `key` when given. */
function redirectUrl(xml: string, o: { relayState?: string; key?: string; sigAlg?: string } = {}): string {
  const params = new URLSearchParams({ SAMLRequest: zlib.deflateRawSync(xml).toString('base64') });
  if (o.relayState !== undefined) params.set('RelayState', o.relayState);
  if (o.key) {
    params.set('SigAlg', o.sigAlg ?? RSA_SHA256);
    params.set('Signature', crypto.sign('RSA-SHA256', Buffer.from(params.toString()), o.key).toString('base64'));
  }
  return `${sso}?${params}`;
}
const signedUrl = (xml: string, relayState = 'relay-1') => redirectUrl(xml, { relayState, key: signed.signing.key });
const b64 = (xml: string) => Buffer.from(xml).toString('base64');

/** A validly signed HTTP-POST AuthnRequest from the SP, as captured on its way to the IdP. */
async function capturePost(config: Parameters<SamlSp['make']>[0] = {}): Promise<string> {
  const fields = await signed.make({ authnRequestBinding: 'HTTP-POST', skipRequestCompression: true, ...config }).getAuthorizeMessageAsync('relay-1');
  return Buffer.from(String(fields.SAMLRequest), 'base64').toString('utf8');
}

describe('signature wrapping on a signed HTTP-POST AuthnRequest (GHSA-63ch-w8pw-4mf2)', () => {
  const wrapper = (id: string, inner: string, signature = '', issuer = signed.entityId) =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${sso}" AssertionConsumerServiceURL="${EVIL_ACS}"><saml:Issuer>${issuer}</saml:Issuer>${signature}<samlp:Extensions><w:Wrap xmlns:w="urn:example:wrap">${inner}</w:Wrap></samlp:Extensions></samlp:AuthnRequest>`;
  const parts = async () => {
    const captured = (await capturePost()).replace(/^<\?xml[^>]*>/, '');
    return { captured, id: /ID="([^"]+)"/.exec(captured)![1]!, signature: /<Signature[\s\S]*<\/Signature>/.exec(captured)![0] };
  };

  test('the signed request hidden in the Extensions of an unsigned attacker root: refused, nothing goes to the attacker ACS', async () => {
    const { captured } = await parts();
    await expectRefused(postForm({ SAMLRequest: b64(wrapper('_evil', captured)), RelayState: 'r' }), 'signature_required');
  });

  test('the signature moved to the attacker root, its Reference still naming the captured request', async () => {
    const { captured, signature } = await parts();
    await expectRefused(postForm({ SAMLRequest: b64(wrapper('_evil', captured.replace(signature, ''), signature)) }), 'signature_invalid');
  });

  test('the attacker root takes the signed ID and signature; the signed request, renamed, hides beside it', async () => {
    const { captured, id, signature } = await parts();
    const forged = wrapper(id, captured.replace(signature, '').replace(`ID="${id}"`, 'ID="_hidden"'), signature);
    await expectRefused(postForm({ SAMLRequest: b64(forged) }), 'signature_invalid');
  });

  test('a second Issuer or an attacker ACS added inside the signed request', async () => {
    const { captured } = await parts();
    const secondIssuer = captured.replace(/(<saml:Issuer[^>]*>[^<]*<\/saml:Issuer>)/, '$1<saml:Issuer>https://evil.example</saml:Issuer>');
    const extension = captured.replace(
      /<\/samlp:AuthnRequest>$/,
      `<samlp:Extensions><a AssertionConsumerServiceURL="${EVIL_ACS}"/></samlp:Extensions></samlp:AuthnRequest>`,
    );
    const attribute = captured.replace('<samlp:AuthnRequest ', `<samlp:AuthnRequest AssertionConsumerServiceIndex="7" `);
    for (const forged of [secondIssuer, extension, attribute]) {
      expect(forged).not.toBe(captured);
      await expectRefused(postForm({ SAMLRequest: b64(forged) }), 'schema_invalid', 'signature_invalid');
    }
  });

  test('the untouched signed request is acted on as signed: the login answers only the registered ACS', async () => {
    const browser = new Browser();
    const started = await land(browser, sso, {
      method: 'POST',
      body: new URLSearchParams({ SAMLRequest: b64(await capturePost()), RelayState: 'r' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (started.kind !== 'interaction') throw new Error('expected a login');
    const user = await newUser(idp.url, 'saml-wrap-ok');
    const { landing } = await signInAt(browser, started.url, user.username, PASSWORD);
    if (landing?.kind !== 'form') throw new Error('expected the post form');
    expect(landing.form.action).toBe(`${signed.entityId}/acs`);
  });
});

describe('signatures', () => {
  test('a signature stripped from a request of an SP that signs: HTTP-Redirect and HTTP-POST', async () => {
    const url = new URL(await signed.sp.getAuthorizeUrlAsync('relay-1', undefined, {}));
    url.searchParams.delete('Signature');
    url.searchParams.delete('SigAlg');
    await expectRefused(get(url.href), 'signature_required');

    const stripped = (await capturePost()).replace(/<Signature[\s\S]*<\/Signature>/, '');
    await expectRefused(postForm({ SAMLRequest: b64(stripped) }), 'signature_required');
  });

  test('a request signed by an attacker key: both bindings', async () => {
    await expectRefused(get(await signed.make({ privateKey: attacker.key }).getAuthorizeUrlAsync('r', undefined, {})), 'signature_invalid');
    await expectRefused(get(redirectUrl(handRequest(), { relayState: 'r', key: attacker.key })), 'signature_invalid');
    await expectRefused(postForm({ SAMLRequest: b64(await capturePost({ privateKey: attacker.key })) }), 'signature_invalid');
  });

  test('SigAlg downgraded to rsa-sha1, and an unknown SigAlg, each validly signed over what is sent', async () => {
    const sha1 = await signed.make({ signatureAlgorithm: 'sha1' }).getAuthorizeUrlAsync('r', undefined, {});
    expect(new URL(sha1).searchParams.get('SigAlg')).toBe(RSA_SHA1);
    await expectRefused(get(sha1), 'unsupported_signature_algorithm');
    await expectRefused(get(redirectUrl(handRequest(), { key: signed.signing.key, sigAlg: 'urn:example:unknown' })), 'unsupported_signature_algorithm');
    await expectRefused(
      postForm({ SAMLRequest: b64(await capturePost({ signatureAlgorithm: 'sha1', digestAlgorithm: 'sha1' })) }),
      'unsupported_signature_algorithm',
    );
  });

  test('a Redirect whose RelayState was changed after signing', async () => {
    const url = await signed.sp.getAuthorizeUrlAsync('relay-1', undefined, {});
    expect(url).toContain('RelayState=relay-1');
    await expectRefused(get(url.replace('RelayState=relay-1', 'RelayState=https%3A%2F%2Fevil.example')), 'signature_invalid');
    // Dropping it altogether breaks the signature too.
    await expectRefused(get(url.replace(/RelayState=relay-1&?/, '')), 'signature_invalid');
  });

  test('an XML signature inside a Redirect payload is not accepted in place of the query signature', async () => {
    const xml = await capturePost();
    await expectRefused(get(redirectUrl(xml, { relayState: 'r' })), 'malformed');
  });
});

describe('hostile XML', () => {
  const xxe = () => handRequest({ prolog: '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', extra: '&xxe;' });
  const laughs = () =>
    handRequest({
      prolog: `<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`,
      extra: '&lol9;',
    });

  test.each([
    ['an external entity (XXE)', xxe],
    ['billion laughs', laughs],
  ])('a DOCTYPE with %s: refused over both bindings, nothing of the entity echoed', async (_, make) => {
    const xml = make();
    for (const send of [get(signedUrl(xml)), postForm({ SAMLRequest: b64(xml) })]) {
      const res = await expectRefused(send, 'dtd_not_allowed');
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  test('a Redirect payload inflating past the cap (10 MB of spaces deflated): 400 at once, little memory', async () => {
    const bomb = zlib.deflateRawSync(Buffer.concat([Buffer.from(handRequest().replace('<saml:Issuer>', '<!--')), Buffer.alloc(10 * 1024 * 1024, 0x20)]), {
      level: 9,
    });
    const url = `${sso}?${new URLSearchParams({ SAMLRequest: bomb.toString('base64') })}`;
    expect(url.length).toBeLessThan(16 * 1024);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const started = performance.now();
    await expectRefused(get(url), 'too_large');
    const elapsed = performance.now() - started;
    const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    expect(elapsed).toBeLessThan(500);
    // Inflating it all would take 10 MiB at once; the cap stops at 64 KiB.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('what the request asks for', () => {
  test('a replayed AuthnRequest: the first starts a login, the second use is refused (both bindings)', async () => {
    const url = signedUrl(handRequest());
    expect((await new Browser().fetch(url)).status).toBe(303);
    await expectRefused(get(url), 'replayed');

    const body = { SAMLRequest: b64(await capturePost()), RelayState: 'r' };
    expect((await postForm(body)(new Browser())).status).toBe(303);
    await expectRefused(postForm(body), 'replayed');
  });

  test('an Issuer that is no registered SP', async () => {
    await expectRefused(get(signedUrl(handRequest({ issuer: 'https://unknown.example' }))), 'unknown_issuer');
    await expectRefused(postForm({ SAMLRequest: b64(handRequest({ issuer: 'https://unknown.example' })) }), 'unknown_issuer');
  });

  test('an ACS URL not in the metadata: refused, the response never goes there', async () => {
    const res = await expectRefused(get(signedUrl(handRequest({ acs: EVIL_ACS }))), 'acs_not_registered');
    expect(res.headers.get('content-security-policy') ?? '').not.toContain('evil.example');
    await expectRefused(postForm({ SAMLRequest: b64(await capturePost({ callbackUrl: EVIL_ACS })) }), 'acs_not_registered');
  });

  test('a Destination other than this SSO endpoint', async () => {
    await expectRefused(get(signedUrl(handRequest({ destination: 'https://other-idp.example/sso' }))), 'wrong_destination');
    await expectRefused(postForm({ SAMLRequest: b64(await capturePost({ entryPoint: 'https://other-idp.example/sso' })) }), 'wrong_destination');
  });

  test('an IssueInstant expired or in the future', async () => {
    await expectRefused(get(signedUrl(handRequest({ instant: new Date(Date.now() - 10 * 60_000).toISOString() }))), 'expired');
    await expectRefused(get(signedUrl(handRequest({ instant: new Date(Date.now() + 10 * 60_000).toISOString() }))), 'expired');
  });
});

describe('hostile query and body shapes: 400 with an error body, never a 500', () => {
  test('repeated SAMLRequest parameters (both bindings)', async () => {
    const url = new URL(signedUrl(handRequest()));
    url.searchParams.append('SAMLRequest', url.searchParams.get('SAMLRequest')!);
    await expectRefused(get(url.href), 'malformed');
    const xml = b64(handRequest());
    await expectRefused(postForm({ SAMLRequest: [xml, xml] }), 'malformed');
  });

  test('non-base64, empty and missing SAMLRequest', async () => {
    await expectRefused(get(`${sso}?SAMLRequest=%25%25%25not-base64`), 'malformed');
    await expectRefused(get(`${sso}?SAMLRequest=${encodeURIComponent(b64('not deflate'))}`), 'malformed');
    await expectRefused(get(`${sso}?SAMLRequest=`), 'malformed');
    await expectRefused(get(sso), 'malformed');
    await expectRefused(postForm({ SAMLRequest: '<<<>>>' }), 'malformed');
    await expectRefused(postForm({ SAMLRequest: '' }), 'malformed');
    await expectRefused(postForm({ RelayState: 'only' }), 'malformed');
  });

  test('a RelayState over 1 KiB (both bindings)', async () => {
    const huge = 'r'.repeat(2048);
    await expectRefused(get(signedUrl(handRequest(), huge)), 'too_large');
    await expectRefused(postForm({ SAMLRequest: b64(await capturePost()), RelayState: huge }), 'too_large');
  });

  test('Accept: application/json gets {error, error_description}; a browser gets the HTML error page', async () => {
    const json = await expectRefused(get(`${sso}?SAMLRequest=%25%25`, 'application/json'), 'malformed');
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    const again = await new Browser().fetch(`${sso}?SAMLRequest=%25%25`, { headers: { accept: 'application/json' } });
    expect(await again.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/base64/) });
    const html = await expectRefused(postForm({ SAMLRequest: '%%' }), 'malformed');
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
  });

  test('IdP-initiated: an unknown SP, or a RelayState over 1 KiB', async () => {
    await expectRefused(get(`${idp.url}/saml/idp-initiated?sp=${encodeURIComponent('https://unknown.example')}`), 'unknown_service_provider');
    await expectRefused(get(`${idp.url}/saml/idp-initiated?sp=${encodeURIComponent(signed.entityId)}&RelayState=${'r'.repeat(2048)}`), 'malformed');
  });
});

describe('user data in the response (attribute injection)', () => {
  test('markup and quotes in user fields reach the SP as literal text; the response has only the mapped attributes and is schema-valid', async () => {
    const sp = await registerSamlSp(idp.url, 'https://sp-attrs.example', {
      settings: { attribute_mapping: { uid: 'username', ext: 'external_id', mail: 'email' } },
    });
    const username = `inj"&'<saml:Attribute>x</saml:Attribute>-${process.pid}`;
    const externalId = `</saml:AttributeValue></saml:Attribute><saml:Attribute Name="role"><saml:AttributeValue>admin</saml:AttributeValue></saml:Attribute> & "q" ${crypto.randomUUID()}`;
    const email = `o'hara+${process.pid}@example.com`;
    const created = await fetch(`${idp.url}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: { external_id: externalId, username, email, password: PASSWORD } }),
    });
    expect(created.status).toBe(201);

    const browser = new Browser();
    // node-saml signs one percent-encoding and sends another (they differ for spaces and !'()~): both are accepted.
    const relayState = `"><script>alert\`1\`</script>&amp;< !'()~*`;
    const first = await ssoRedirect(browser, sp.sp, relayState);
    if (first.kind !== 'interaction') throw new Error('expected a login');
    const { landing } = await signInAt(browser, first.url, username, PASSWORD);
    if (landing?.kind !== 'form') throw new Error('expected the post form');
    expect(landing.form.RelayState).toBe(relayState);

    const { profile } = await spValidates(sp.sp, landing.form);
    expect(profile?.uid).toBe(username);
    expect(profile?.ext).toBe(externalId);
    expect(profile?.mail).toBe(email);
    expect(profile?.role).toBeUndefined();

    const xml = decodeResponse(landing.form);
    const attributes = Array.from(new DOMParser().parseFromString(xml, 'text/xml').getElementsByTagNameNS(ASSERTION, 'Attribute')).map((a) =>
      a.getAttribute('Name'),
    );
    expect(attributes.sort()).toEqual(['ext', 'mail', 'uid']);
    await expect(validateSamlMessage(xml)).resolves.toBeUndefined();
  });
});

describe('a login is bound to the browser that started it', () => {
  test('another browser can neither load the interaction nor take the form; the form is handed out once', async () => {
    const user = await newUser(idp.url, 'saml-bound');
    const owner = new Browser();
    const started = await ssoRedirect(owner, signed.sp);
    if (started.kind !== 'interaction') throw new Error('expected a login');
    const other = new Browser();
    const otherStarted = await ssoRedirect(other, signed.sp);
    expect(otherStarted.kind).toBe('interaction');
    expect(other.cookies().get('idp_saml_browser')).toBeTruthy();

    for (const b of [new Browser(), other]) {
      expect((await b.json(started.url)).status).toBe(400);
      expect((await b.json(`${started.url.href}/login`, { username: user.username, password: PASSWORD })).status).toBe(400);
    }
    expect((await owner.json(started.url)).status).toBe(200);

    const login = await owner.json(`${started.url.href}/login`, { username: user.username, password: PASSWORD });
    expect(login.body.status).toBe('success');
    const formUrl = String(login.body.redirect_to);
    expect(formUrl).toMatch(/\/saml\/sso\/post\//);
    // Other browsers are refused, and their attempt does not use the form up.
    for (const b of [new Browser(), other]) {
      const stolen = await b.fetch(formUrl);
      expect(stolen.status).toBe(400);
      expect(await stolen.text()).not.toContain('SAMLResponse');
    }
    const mine = await owner.fetch(formUrl);
    expect(mine.status).toBe(200);
    await spValidates(signed.sp, readPostForm(await mine.text()));
    expect((await owner.fetch(formUrl)).status).toBe(400);
  });

  test('the continue token of the HTTP-POST binding works once', async () => {
    const browser = new Browser();
    const posted = await postForm({ SAMLRequest: b64(await capturePost()), RelayState: 'r' })(browser);
    expect(posted.status).toBe(303);
    const next = new URL(posted.headers.get('location')!, sso);
    expect(next.pathname).toMatch(/^\/saml\/sso\/continue\//);
    expect((await browser.fetch(next)).status).toBe(303);
    const again = await browser.fetch(next, { headers: { accept: 'application/json' } });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_step' });
  });
});

describe('throttled', () => {
  let small: TestIdp;
  beforeAll(async () => {
    small = await startTestIdp('saml-throttle', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 60, samlPerIpPerMinute: 3 } });
  });
  afterAll(async () => {
    await small.stop();
  });

  test('SAML messages from one IP beyond the per-minute budget get 429 before they are read', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await fetch(`${small.url}/saml/sso?SAMLRequest=not-base64!`, { headers: { accept: 'application/json' } })).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
    const slo = await fetch(`${small.url}/saml/slo?SAMLRequest=x`, { headers: { accept: 'application/json' } });
    expect(slo.status).toBe(429);
    expect(await slo.json()).toMatchObject({ error: 'too_many_requests' });
  });
});
