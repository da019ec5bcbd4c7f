/**
 * The prompt's part of the challenge page. Without script: "Send a prompt" posts the start, the page
 * comes back with the number to pick on the device, and "I approved it" asks whether the answer is
 * in. With script (/assets/prompt-login.js), the same buttons run in place and the page polls; its
 * messages come with the form (`data-*`), in the page's language.
 */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/prompt/begin" data-prompt="begin"
  data-pick="<%= it.t('mfa:prompt.pick') %>" data-waiting="<%= it.t('mfa:prompt.waiting') %>" data-expired="<%= it.t('mfa:prompt.expired') %>"
  data-denied="<%= it.t('mfa:prompt.denied') %>" data-failed="<%= it.t('mfa:prompt.failed') %>" data-not-sent="<%= it.t('mfa:prompt.not_sent') %>">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <p><%= it.t('mfa:prompt.intro') %></p>
  <button type="submit" class="secondary"><%= it.t('mfa:prompt.send') %></button>
</form>
<% if (it.started && it.started.method === 'prompt' && it.started.number === undefined) { %>
<p class="error" role="alert"><%= it.t(it.started.status === 'denied' ? 'mfa:prompt.denied' : 'mfa:prompt.expired') %></p>
<% } else if (it.started && it.started.method === 'prompt') { %>
<form method="post" action="/interaction/<%= it.uid %>/mfa/prompt/status" data-prompt="status">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <p><%= it.t('mfa:prompt.pick') %> <strong class="key" data-prompt-number><%= it.started.number %></strong></p>
  <button type="submit" class="primary"><%= it.t('mfa:prompt.approved') %></button>
</form>
<% } %>
<script src="/assets/prompt-login.js" defer></script>
`;
