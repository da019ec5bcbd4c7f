/**
 * The passkey parts of the pages. The ceremony needs the browser's WebAuthn API, so these run
 * with script (/assets/passkey.js, from our own origin as the Content-Security-Policy requires),
 * which shows the form only where WebAuthn exists; the button posts the response with the form's
 * CSRF token. The script's messages come with the form (`data-messages`), in the page's language.
 */
/** The script's messages as a form attribute; the sign-in page's passwordless form carries it too. */
export const passkeyMessages = `data-messages="<%= JSON.stringify({
    NotAllowedError: it.t('mfa:passkey.error.not_allowed'),
    AbortError: it.t('mfa:passkey.error.aborted'),
    InvalidStateError: it.t('mfa:passkey.error.exists'),
    SecurityError: it.t('mfa:passkey.error.security'),
    BeginError: it.t('mfa:passkey.error.begin'),
    other: it.t('mfa:passkey.error.other'),
  }) %>"`;

/** How each passkey form ends: its error line, what a browser that cannot run it shows, and the scripts. */
const formEnd = (verb: 'use' | 'create') => `  <p class="error" role="alert" hidden></p>
</form>
<noscript><p class="muted"><%= it.t('mfa:passkey.needs_script_${verb}') %></p></noscript>
<p class="muted" data-passkey-unsupported hidden><%= it.t('mfa:passkey.unsupported_${verb}') %></p>
<script src="/assets/simplewebauthn-browser.js" defer></script>
<script src="/assets/passkey.js" defer></script>
`;

export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/passkey/finish" data-passkey="authenticate"
  data-begin="/interaction/<%= it.uid %>/mfa/passkey/begin" ${passkeyMessages} hidden>
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="credential">
  <p><%= it.t('mfa:passkey.intro') %></p>
  <button type="submit" class="primary"><%= it.t('mfa:passkey.use') %></button>
${formEnd('use')}`;

/** Registering a passkey inside a login, when the policy asks for a factor the user does not have. */
export const enrolmentView = `<h1><%= it.t('mfa:passkey_enrol.heading') %></h1>
<p><%= it.t('mfa:enrol.required') %> <%= it.t('mfa:passkey_enrol.intro') %></p>
<% if (it.error) { %><p class="error" role="alert"><%= it.error %></p><% } %>
<form method="post" action="/interaction/<%= it.uid %>/enroll/passkey/confirm" data-passkey="register" ${passkeyMessages} hidden>
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="credential">
  <script type="application/json" data-options><%~ JSON.stringify(it.enrollment).replace(/</g, '\\\\u003c') %></script>
  <label for="passkey-name"><%= it.t('mfa:enrol.name_optional') %></label>
  <input id="passkey-name" name="name" type="text" maxlength="64" autocomplete="off">
  <button type="submit" class="primary"><%= it.t('mfa:passkey_enrol.create') %></button>
${formEnd('create')}`;
