/** The code from the authenticator app, on the challenge page. */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/totp">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
  <button type="submit">Verify</button>
</form>
`;
