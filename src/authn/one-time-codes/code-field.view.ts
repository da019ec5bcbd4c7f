/**
 * A 6-digit code field of the pages: numeric keypad, the platform's one-time-code autofill, and when
 * `error` (an eta expression) holds a refusal, marked invalid with the refusal read with it (WCAG 3.3.1).
 * `focus` (an eta expression) says whether the field takes the focus.
 */
export const codeField = (id: string, label: string, error: string, focus: string) => `  <label for="${id}">${label}</label>
  <input id="${id}" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required<%= ${focus} ? ' autofocus' : '' %><% if (${error}) { %> aria-invalid="true" aria-describedby="${id}-error"<% } %>>
<% if (${error}) { %>  <p id="${id}-error" class="field-error"><%= ${error} %></p>
<% } %>`;
