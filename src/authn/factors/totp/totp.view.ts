/** The code from the authenticator app, on the challenge page. */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/totp">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
  <button type="submit">Verify</button>
</form>
`;

/** Setting up an authenticator app inside a login: the QR code, the key for those who cannot scan, the first code. */
export const enrolmentView = `<h1>Set up your authenticator app</h1>
<p>Your organisation requires a second step when you sign in. Scan this code with an authenticator app
(Google Authenticator, Microsoft Authenticator, 1Password, …), then enter the 6-digit code it shows.</p>
<% if (it.error) { %><p class="error" role="alert"><%= it.error %></p><% } %>
<img src="<%= it.enrollment.qr_code_png %>" alt="QR code for your authenticator app" width="200" height="200">
<p class="muted">Can't scan? Enter this key: <code><%= it.enrollment.secret %></code></p>
<form method="post" action="/interaction/<%= it.uid %>/enroll/totp/confirm">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <label for="code">6-digit code</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
  <button type="submit">Confirm</button>
</form>
`;
