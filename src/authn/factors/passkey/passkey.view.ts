/**
 * The passkey parts of the pages. The ceremony needs the browser's WebAuthn API, so these run
 * with script (/assets/passkey.js, from our own origin as the Content-Security-Policy requires),
 * which shows the form only where WebAuthn exists; the button posts the response with the form's
 * CSRF token.
 */
/** How each passkey form ends: its error line, what a browser that cannot run it shows, and the scripts. */
const formEnd = (gerund: string, verb: string) => `  <p class="error" role="alert" hidden></p>
</form>
<noscript><p class="muted">${gerund} a passkey needs JavaScript.</p></noscript>
<p class="muted" data-passkey-unsupported hidden>This browser cannot ${verb} passkeys.</p>
<script src="/assets/simplewebauthn-browser.js" defer></script>
<script src="/assets/passkey.js" defer></script>
`;

export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/passkey/finish" data-passkey="authenticate"
  data-begin="/interaction/<%= it.uid %>/mfa/passkey/begin" hidden>
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="credential">
  <p>Use the passkey or security key you registered.</p>
  <button type="submit">Use a passkey</button>
${formEnd('Using', 'use')}`;

/** Registering a passkey inside a login, when the policy asks for a factor the user does not have. */
export const enrolmentView = `<h1>Create a passkey</h1>
<p>Your organisation requires a second step when you sign in. A passkey uses this device's screen lock
(fingerprint, face or PIN) or a security key, and cannot be phished.</p>
<% if (it.error) { %><p class="error" role="alert"><%= it.error %></p><% } %>
<form method="post" action="/interaction/<%= it.uid %>/enroll/passkey/confirm" data-passkey="register" hidden>
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="credential">
  <script type="application/json" data-options><%~ JSON.stringify(it.enrollment).replace(/</g, '\\\\u003c') %></script>
  <label for="passkey-name">Name (optional)</label>
  <input id="passkey-name" name="name" type="text" maxlength="64" autocomplete="off">
  <button type="submit">Create a passkey</button>
${formEnd('Creating', 'create')}`;
