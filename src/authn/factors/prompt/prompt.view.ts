/**
 * The prompt's part of the challenge page. Without script: "Send a prompt" posts the start, the page
 * comes back with the number to pick on the device, and "I approved it" asks whether the answer is
 * in. With script (/assets/prompt-login.js), the same buttons run in place and the page polls.
 */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/prompt/begin" data-prompt="begin">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <p>Get a prompt on a device you registered, and pick the number shown here.</p>
  <button type="submit">Send a prompt</button>
</form>
<% if (it.started && it.started.method === 'prompt' && it.started.number === undefined) { %>
<p class="error" role="alert"><%= it.started.status === 'denied' ? 'The sign-in was not approved on your device.' : 'The prompt expired.' %> Send a new one.</p>
<% } else if (it.started && it.started.method === 'prompt') { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/prompt/status" data-prompt="status">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <p>Pick <strong data-prompt-number><%= it.started.number %></strong> on your device.</p>
  <button type="submit">I approved it</button>
</form>
<% } %>
<script src="/assets/prompt-login.js" defer></script>
`;
