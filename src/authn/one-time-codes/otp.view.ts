import { codeField } from './code-field.view.js';
import { OTP_CHALLENGE_PATH } from './otp-factor.js';

/**
 * The challenge page's part for one channel: a button per destination of that channel (sends a
 * code there), then, once a code went out by this channel, the field for it and a way to have it
 * sent again. Eta, autoescaped.
 */
export const otpChallengeView = (channel: 'sms' | 'voice' | 'email') => `<% const mine = (it.destinations || []).filter((d) => d.channel === '${channel}') %>
<% const sent = it.started && it.started.method === '${channel}' ? mine.find((d) => d.mask === it.started.mask) : undefined %>
<% if (!mine.length) { %><p class="muted"><%= it.t('mfa:otp.none') %></p><% } %>
<% for (const d of mine) { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/${OTP_CHALLENGE_PATH}/send">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="channel" value="${channel}">
  <input type="hidden" name="destination_id" value="<%= d.id %>">
  <button type="submit" class="secondary"><%= it.t('mfa:otp.send.${channel}', { mask: d.mask }) %></button>
</form>
<% } %>
<% if (it.started && it.started.method === '${channel}') { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/${OTP_CHALLENGE_PATH}/verify">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
${codeField('otp-code', `<%= it.t('mfa:otp.label.${channel}', { mask: it.started.mask }) %>`, 'it.fieldError', "it.focus === '" + channel + "'")}
  <button type="submit" class="primary"><%= it.t('mfa:challenge.verify') %></button>
</form>
<% if (sent) { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/${OTP_CHALLENGE_PATH}/send">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="channel" value="${channel}">
  <input type="hidden" name="destination_id" value="<%= sent.id %>">
  <input type="hidden" name="didNotReceiveCode" value="true">
  <p class="muted"><%= it.t('mfa:otp.resend_question') %> <button type="submit" class="link" style="margin: 0"><%= it.t('mfa:otp.resend') %></button></p>
</form>
<% } %>
<% } %>
`;
