import { codeField } from '../../one-time-codes/code-field.view.js';

/** The code from the authenticator app, on the challenge page. */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/totp">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
${codeField('code', `<%= it.t('mfa:totp.label') %>`, 'it.fieldError', "it.focus === 'totp'")}
  <button type="submit" class="primary"><%= it.t('mfa:challenge.verify') %></button>
</form>
`;

/**
 * Setting up an authenticator app inside a login: the QR code; for a phone, a link that opens the app
 * with the otpauth URI; for those who cannot scan, the key in groups of four (for reading; the
 * unspaced key beside it, and a copy button, for pasting); then the first code.
 */
export const enrolmentView = `<h1><%= it.t('mfa:totp_enrol.heading') %></h1>
<p><%= it.t('mfa:enrol.required') %> <%= it.t('mfa:totp_enrol.intro') %></p>
<img class="qr" src="<%= it.enrollment.qr_code_png %>" alt="<%= it.t('mfa:totp_enrol.qr_alt') %>" width="200" height="200">
<p><%= it.t('mfa:totp_enrol.on_phone') %> <a href="<%= it.enrollment.otpauth_uri %>" data-otpauth><%= it.t('mfa:totp_enrol.open_app') %></a></p>
<p><%= it.t('mfa:totp_enrol.cannot_scan') %></p>
<p class="key" data-key-grouped><%= it.enrollment.secret.match(/.{1,4}/g).join(' ') %></p>
<label for="totp-key"><%= it.t('mfa:totp_enrol.key_plain') %></label>
<input id="totp-key" type="text" readonly value="<%= it.enrollment.secret %>" autocomplete="off" spellcheck="false" class="code">
<div data-script-only hidden><div class="actions">
  <button type="button" class="secondary" data-copy="#totp-key" data-copied="<%= it.t('mfa:totp_enrol.copied') %>"><%= it.t('mfa:totp_enrol.copy_key') %></button>
  <span class="muted" role="status" data-copy-status></span>
</div></div>
<form method="post" action="/interaction/<%= it.uid %>/enroll/totp/confirm">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
${codeField('code', `<%= it.t('mfa:totp_enrol.code_label') %>`, 'it.error', 'true')}
  <button type="submit" class="primary"><%= it.t('mfa:enrol.confirm') %></button>
</form>
<script src="/assets/copy.js" defer></script>
`;
