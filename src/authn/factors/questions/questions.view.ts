/**
 * The challenge form. Until a challenge is started, one button starts it (its `formaction`); a
 * browser without script gets the page again with the questions (`it.started`), each answer field
 * carrying the challenge's identifier of its question, and the form posts the answers.
 */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/questions">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
<% if (it.started && it.started.method === 'questions') { %>
  <p><%= it.t('mfa:questions.intro') %></p>
<% it.started.questions.forEach((q, i) => { %>
  <input type="hidden" name="answers[<%= i %>][identifier]" value="<%= q.identifier %>">
  <label for="answer-<%= i %>"><%= q.question %></label>
  <input id="answer-<%= i %>" name="answers[<%= i %>][answer]" type="text" autocomplete="off" maxlength="256" required<%= i === 0 && it.focus === 'questions' ? ' autofocus' : '' %>>
<% }) %>
  <button type="submit" class="primary"><%= it.t('mfa:challenge.verify') %></button>
<% } else { %>
  <button type="submit" class="secondary" formaction="/interaction/<%= it.uid %>/mfa/questions/begin"><%= it.t('mfa:questions.start') %></button>
<% } %>
</form>
`;
