/** Recovery, under "Try another way" on the challenge page. */
export const challengeView = `<form method="post" action="/interaction/<%= it.uid %>/mfa/backup-code">
  <input type="hidden" name="csrf" value="<%= it.csrf %>">
  <label for="backup"><%= it.t('mfa:backup.label') %></label>
  <p id="backup-hint" class="muted"><%= it.t('mfa:backup.hint') %></p>
  <input id="backup" name="code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required<%= it.focus === 'backup_code' ? ' autofocus' : '' %> aria-describedby="backup-hint<%= it.fieldError ? ' backup-error' : '' %>"<%= it.fieldError ? ' aria-invalid="true"' : '' %>>
<% if (it.fieldError) { %>  <p id="backup-error" class="field-error"><%= it.fieldError %></p>
<% } %>  <button type="submit" class="primary"><%= it.t('mfa:backup.use') %></button>
</form>
`;
