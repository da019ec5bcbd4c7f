/**
 * Single logout as a browser and node-saml SPs play it: where each answer of the IdP sends the
 * browser (a Redirect to an SP, an auto-posting form, a page), and LogoutRequests/LogoutResponses
 * signed for the HTTP-POST binding, which node-saml only builds for HTTP-Redirect.
 */
import zlib from 'node:zlib';
import type { Profile, SAML } from '@node-saml/node-saml';
import { signSamlPost } from '@node-saml/node-saml/lib/saml-post-signing.js';
import type { Browser } from './browser.js';
import { unescapeMarkup } from './saml-flow.js';

export type Hop =
  | { kind: 'redirect'; url: URL; query: Record<string, string>; raw: string }
  | { kind: 'form'; action: string; fields: Record<string, string> }
  | { kind: 'page'; status: number; html: string };

/** Follows the IdP's own redirects (a POST's continue) and says where the browser goes next. */
export async function hop(browser: Browser, idpUrl: string, start: string | URL, init: RequestInit = {}): Promise<Hop> {
  let res = await browser.fetch(start, init);
  let url = new URL(start);
  while (res.status >= 300 && res.status < 400) {
    url = new URL(res.headers.get('location')!, url);
    if (!url.href.startsWith(idpUrl)) {
      const raw = url.search.slice(1);
      return { kind: 'redirect', url, query: Object.fromEntries(new URLSearchParams(raw)), raw };
    }
    res = await browser.fetch(url);
  }
  const html = await res.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (res.status !== 200 || !action) return { kind: 'page', status: res.status, html };
  const fields = Object.fromEntries([...html.matchAll(/name="(\w+)" value="([^"]*)"/g)].map((m) => [m[1]!, unescapeMarkup(m[2]!)]));
  return { kind: 'form', action: unescapeMarkup(action), fields };
}

export const postForm = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
  body: new URLSearchParams(fields).toString(),
});

/** The message a hop carries, whichever binding: its field and the XML. */
export function messageOf(h: Hop): { field: 'SAMLRequest' | 'SAMLResponse'; xml: string; destination: string } {
  if (h.kind === 'page') throw new Error(`no SAML message: ${h.status} ${h.html.slice(0, 300)}`);
  const fields = h.kind === 'redirect' ? h.query : h.fields;
  const field = fields.SAMLRequest !== undefined ? 'SAMLRequest' : 'SAMLResponse';
  const bytes = Buffer.from(fields[field]!, 'base64');
  const xml = h.kind === 'redirect' ? zlib.inflateRawSync(bytes).toString('utf8') : bytes.toString('utf8');
  return { field, xml, destination: h.kind === 'redirect' ? `${h.url.origin}${h.url.pathname}` : h.action };
}

/** node-saml's verdict on the IdP's message, as the SP's SLO endpoint would give it. */
export async function spReads(sp: SAML, h: Hop) {
  if (h.kind === 'redirect') return sp.validateRedirectAsync(h.query, h.raw);
  if (h.kind !== 'form') throw new Error(`no SAML message: ${h.status} ${h.html.slice(0, 300)}`);
  if (h.fields.SAMLRequest !== undefined) return sp.validatePostRequestAsync({ SAMLRequest: h.fields.SAMLRequest });
  return sp.validatePostResponseAsync({ SAMLResponse: h.fields.SAMLResponse! });
}

const root = (name: string) => `/*[local-name(.)="${name}" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:protocol"]`;

/** A LogoutRequest node-saml would send, signed for the HTTP-POST binding (enveloped, RSA-SHA256). */
export async function postedLogoutRequest(sp: SAML, profile: Profile, key: string, edit: (xml: string) => string = String): Promise<string> {
  const xml = edit(await sp._generateLogoutRequest(profile));
  return Buffer.from(signSamlPost(xml, root('LogoutRequest'), { privateKey: key, signatureAlgorithm: 'sha256', digestAlgorithm: 'sha256' })).toString('base64');
}

/** node-saml's LogoutResponse to the IdP's request, signed for the HTTP-POST binding. */
export function postedLogoutResponse(sp: SAML, request: Profile, key: string, edit: (xml: string) => string = String): string {
  const xml = edit(sp._generateLogoutResponse(request, true));
  return Buffer.from(signSamlPost(xml, root('LogoutResponse'), { privateKey: key, signatureAlgorithm: 'sha256', digestAlgorithm: 'sha256' })).toString(
    'base64',
  );
}
