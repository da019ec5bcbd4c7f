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

/** The HTTP-POST binding's form (SAML 2.0 Bindings §3.5.4): a SAMLResponse and, when the SP sent one, its RelayState, posted to the ACS. */
export function postFormPage(m: { acsUrl: string; samlResponse: string; relayState?: string }): string {
  const field = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeMarkup(value)}">`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Signing you in</title></head>
<body>
<form method="post" action="${escapeMarkup(m.acsUrl)}">
${field('SAMLResponse', m.samlResponse)}${m.relayState !== undefined ? `\n${field('RelayState', m.relayState)}` : ''}
<noscript><p>JavaScript is off: press Continue to go back to the application.</p></noscript>
<button type="submit">Continue</button>
</form>
<script>${SUBMIT_SCRIPT}</script>
</body>
</html>
`;
}

/** What the page's Content-Security-Policy must allow: its script, and a form posted to the ACS's origin. */
export function allowPostForm(res: object, acsUrl: string): void {
  addCspSources(res, 'script-src', [SUBMIT_SCRIPT_SOURCE]);
  allowFormTargets(res, [acsUrl]);
}
