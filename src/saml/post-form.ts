import crypto from 'node:crypto';
import { addCspSources, allowFormTargets } from '../lib/csp.js';
import { escapeMarkup } from '../lib/text.js';

/**
 * The page submits its own form: this one fixed script, allowed by its hash (CSP Level 3 §8.4)
 * as oidc-provider's form_post pages are, so no 'unsafe-inline' is needed. Without JavaScript the
 * button does the same.
 */
const SUBMIT_SCRIPT = 'document.forms[0].submit();';
const SUBMIT_SCRIPT_SOURCE = `'sha256-${crypto.createHash('sha256').update(SUBMIT_SCRIPT).digest('base64')}'`;

/**
 * The HTTP-POST binding's form (SAML 2.0 Bindings §3.5.4): one SAML message (a SAMLRequest or a
 * SAMLResponse) and its RelayState when there is one, posted to the SP's endpoint.
 */
export function samlPostPage(m: { action: string; field: 'SAMLRequest' | 'SAMLResponse'; value: string; relayState?: string; title: string }): string {
  const field = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeMarkup(value)}">`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${escapeMarkup(m.title)}</title></head>
<body>
<form method="post" action="${escapeMarkup(m.action)}">
${field(m.field, m.value)}${m.relayState !== undefined ? `\n${field('RelayState', m.relayState)}` : ''}
<noscript><p>JavaScript is off: press Continue to go back to the application.</p></noscript>
<button type="submit">Continue</button>
</form>
<script>${SUBMIT_SCRIPT}</script>
</body>
</html>
`;
}

/** A login's response posted to the SP's ACS. */
export function postFormPage(m: { acsUrl: string; samlResponse: string; relayState?: string }): string {
  return samlPostPage({ action: m.acsUrl, field: 'SAMLResponse', value: m.samlResponse, relayState: m.relayState, title: 'Signing you in' });
}

/** What the page's Content-Security-Policy must allow: its script, and a form posted to the SP endpoint's origin. */
export function allowPostForm(res: object, action: string): void {
  addCspSources(res, 'script-src', [SUBMIT_SCRIPT_SOURCE]);
  allowFormTargets(res, [action]);
}
