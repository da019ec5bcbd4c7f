/** Recovery, folded away below the usual method on the challenge page. */
export const challengeView = `<details>
  <summary>Use a backup code</summary>
  <form method="post" action="/interaction/<%= it.uid %>/mfa/backup-code">
    <input type="hidden" name="csrf" value="<%= it.csrf %>">
    <label for="backup">Backup code</label>
    <input id="backup" name="code" type="text" autocomplete="off" maxlength="32" required>
    <button type="submit">Use backup code</button>
  </form>
</details>
`;
