/**
 * Sources one response adds to its page's Content-Security-Policy, keyed by the Node response so
 * that the provider's pages and ours can both contribute without sharing a framework type.
 */
export type CspDirective = 'script-src' | 'form-action' | 'img-src';

/** What koa's `response.is('html')` answers, without parsing the media type on every (token) response. */
export const isHtml = (contentType: unknown): boolean => typeof contentType === 'string' && contentType.toLowerCase().startsWith('text/html');

const added = new WeakMap<object, Map<CspDirective, Set<string>>>();

export function addCspSources(res: object, directive: CspDirective, sources: Iterable<string>): void {
  const byDirective = added.get(res) ?? new Map<CspDirective, Set<string>>();
  const set = byDirective.get(directive) ?? new Set<string>();
  for (const s of sources) set.add(s);
  byDirective.set(directive, set);
  added.set(res, byDirective);
}

export const cspSources = (res: object, directive: CspDirective): string[] => [...(added.get(res)?.get(directive) ?? [])];

/** A scheme-source, or a host-source with scheme and optional port (CSP Level 3 §2.3.1 grammar). */
const SOURCE = /^[a-z][a-z0-9+.-]*:(\/\/[a-z0-9.-]+(:\d+)?)?$/i;

/** Schemes whose documents run in the page's context or carry their own content: never form targets. */
const SCRIPTABLE_SCHEMES = new Set(['javascript:', 'data:', 'blob:', 'filesystem:']);

/**
 * Lets the page's forms lead to these URLs. Browsers (Chromium) apply form-action to the redirects
 * that follow a submission as well, so a login form whose answer redirects to the relying party
 * needs the relying party's origin. A URL without an origin (a native app's private-use scheme) is
 * allowed by its scheme.
 */
export function allowFormTargets(res: object, urls: Iterable<string>): void {
  const sources: string[] = [];
  for (const raw of urls) {
    if (!URL.canParse(raw)) continue;
    const url = new URL(raw);
    if (SCRIPTABLE_SCHEMES.has(url.protocol)) continue;
    const source = url.origin === 'null' ? url.protocol : url.origin;
    // WHATWG URLs let `;` and `,` into a host; in a policy they would end the directive.
    if (SOURCE.test(source)) sources.push(source);
  }
  addCspSources(res, 'form-action', sources);
}

/** Lets the page show images from these https origins (an organisation's or a client's logo). */
export function allowImages(res: object, urls: Iterable<string | null | undefined>): void {
  const sources: string[] = [];
  for (const raw of urls) {
    if (!raw || !URL.canParse(raw)) continue;
    const url = new URL(raw);
    if (url.protocol === 'https:' && SOURCE.test(url.origin)) sources.push(url.origin);
  }
  addCspSources(res, 'img-src', sources);
}
