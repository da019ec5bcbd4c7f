/**
 * The challenge page's part for one channel: a button per destination of that channel (sends a
 * code there), then, once a code went out by this channel, the field for it. Eta, autoescaped.
 */
export const otpChallengeView = (
  channel: 'sms' | 'voice' | 'email',
  send: string,
  sentTo: string,
) => `<% const mine = (it.destinations || []).filter((d) => d.channel === '${channel}') %>
<% for (const d of mine) { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/otp/send">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <input type="hidden" name="channel" value="${channel}">
  <input type="hidden" name="destination_id" value="<%= d.id %>">
  <button type="submit">${send} <%= d.mask %></button>
</form>
<% } %>
<% if (it.started && it.started.method === '${channel}') { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/otp/verify">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <label for="otp-code">${sentTo} <%= it.started.mask %></label>
  <input id="otp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
  <button type="submit">Verify</button>
</form>
<% } %>
`;
