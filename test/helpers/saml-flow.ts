/**
 * A SAML service provider written by others (@node-saml/node-saml) driving the IdP through a
 * browser: AuthnRequests over HTTP-Redirect or HTTP-POST, the interaction steps, and the
 * auto-posting form read back and validated by node-saml.
 */
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { expect } from '@jest/globals';
import { Browser } from './browser.js';
import { ADMIN_KEY } from './env.js';
import { selfSigned } from './saml-sp.js';

export const REFEDS_MFA = 'https://refeds.org/profile/mfa';
export const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

export interface PostedForm {
  action: string;
  SAMLResponse: string;
  RelayState?: string;
}

/** Where an SSO request led the browser: a form to post to the SP at once, or a login at the interaction pages. */
export type SsoLanding = { kind: 'form'; form: PostedForm; res: Response } | { kind: 'interaction'; url: URL; res: Response };

const attr = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
/** Markup entities back to text, as a browser reads a form's values. */
export const unescapeMarkup = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The HTTP-POST binding's form as the page carries it. */
export function readPostForm(html: string): PostedForm {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const samlResponse = attr(html, 'SAMLResponse');
  if (!action || !samlResponse) throw new Error(`not a SAML post form: ${html.slice(0, 300)}`);
  const relayState = attr(html, 'RelayState');
  return {
    action: unescapeMarkup(action),
    SAMLResponse: unescapeMarkup(samlResponse),
    ...(relayState !== undefined ? { RelayState: unescapeMarkup(relayState) } : {}),
  };
}

export const decodeResponse = (form: PostedForm) => Buffer.from(form.SAMLResponse, 'base64').toString('utf8');

/** A node-saml SP with its own signing key, registered at the IdP through the admin API. */
export async function registerSamlSp(
  idpUrl: string,
  entityId: string,
  opts: { config?: Partial<SamlConfig>; settings?: Record<string, unknown>; idpCert?: () => string; metadata?: (xml: string) => string } = {},
) {
  const signing = await selfSigned(`${entityId} signing`);
  let idpCert = opts.idpCert?.() ?? '';
  if (!idpCert) {
    const metadata = await (await fetch(`${idpUrl}/saml/metadata`)).text();
    idpCert = /<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/.exec(metadata)![1]!;
  }
  const make = (extra: Partial<SamlConfig> = {}) =>
    new SAML({
      issuer: entityId,
      callbackUrl: `${entityId}/acs`,
      audience: entityId,
      entryPoint: `${idpUrl}/saml/sso`,
      logoutUrl: `${idpUrl}/saml/slo`,
      logoutCallbackUrl: `${entityId}/slo`,
      idpCert,
      privateKey: signing.key,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      identifierFormat: PERSISTENT,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      validateInResponseTo: ValidateInResponseTo.always,
      acceptedClockSkewMs: 5000,
      ...opts.config,
      ...extra,
    });
  const sp = make();
  const res = await fetch(`${idpUrl}/api/v1/saml/service-providers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: (opts.metadata ?? String)(sp.generateServiceProviderMetadata(null, signing.pem)), ...opts.settings }),
  });
  if (res.status !== 201) throw new Error(`SP registration failed: ${res.status} ${await res.text()}`);
  const registered = (await res.json()) as { id: string };
  return { id: registered.id, entityId, sp, make, signing };
}

export type SamlSp = Awaited<ReturnType<typeof registerSamlSp>>;

/** Follows redirects within the IdP until a post form or an interaction page. */
export async function land(browser: Browser, start: string | URL, init: RequestInit = {}): Promise<SsoLanding> {
  let res = await browser.fetch(start, init);
  let url = new URL(start);
  for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i++) {
    url = new URL(res.headers.get('location')!, url);
    if (url.pathname.startsWith('/interaction/')) return { kind: 'interaction', url, res };
    res = await browser.fetch(url);
  }
  const html = await res.text();
  if (res.status !== 200) throw new Error(`SSO answered ${res.status}: ${html.slice(0, 300)}`);
  return { kind: 'form', form: readPostForm(html), res };
}

/** The SP sends the browser to the IdP with an AuthnRequest over HTTP-Redirect. */
export async function ssoRedirect(browser: Browser, sp: SAML, relayState = 'relay-1'): Promise<SsoLanding> {
  return land(browser, await sp.getAuthorizeUrlAsync(relayState, undefined, {}));
}

/** The SP's auto-posting form with an AuthnRequest over HTTP-POST, submitted cross-site by the browser. */
export async function ssoPost(browser: Browser, sp: SAML, idpUrl: string, relayState = 'relay-1'): Promise<SsoLanding> {
  const fields = await sp.getAuthorizeMessageAsync(relayState);
  const body = new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)]));
  return land(browser, `${idpUrl}/saml/sso`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

/** Answers the password step of a login the SSO request started, and follows `redirect_to` to the post form. */
export async function signInAt(browser: Browser, interaction: URL, username: string, password: string): Promise<{ body: any; landing?: SsoLanding }> {
  const r = await browser.json(`${interaction.href}/login`, { username, password });
  expect(r.status).toBe(200);
  if (r.body.status !== 'success') return { body: r.body };
  return { body: r.body, landing: await land(browser, r.body.redirect_to) };
}

/** The SP sends a browser without a session to the IdP; the password alone signs in; the form the SP receives. */
export async function passwordSso(sp: SAML, username: string, password: string, browser = new Browser()): Promise<{ browser: Browser; form: PostedForm }> {
  const first = await ssoRedirect(browser, sp);
  if (first.kind !== 'interaction') throw new Error('expected a login');
  const { body, landing } = await signInAt(browser, first.url, username, password);
  expect(body.status).toBe('success');
  if (landing?.kind !== 'form') throw new Error('expected the post form');
  return { browser, form: landing.form };
}

/** Finishes a step answered with `redirect_to` (MFA, trusted device) at the post form. */
export async function formAfter(browser: Browser, answer: { status: number; body: any }): Promise<PostedForm> {
  expect(answer.status).toBe(200);
  expect(answer.body.status).toMatch(/^(success|aborted)$/);
  const landing = await land(browser, answer.body.redirect_to);
  if (landing.kind !== 'form') throw new Error('expected the post form');
  return landing.form;
}

/** node-saml's verdict on the form, as the SP's ACS would give it. */
export async function spValidates(sp: SAML, form: PostedForm) {
  return sp.validatePostResponseAsync({ SAMLResponse: form.SAMLResponse, ...(form.RelayState !== undefined ? { RelayState: form.RelayState } : {}) });
}

export { Browser };
