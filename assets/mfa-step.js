/**
 * The "Continue in your app" page: while the organisation's app runs the second factor, asks the
 * server every two seconds whether it is decided, and follows the login on once it is. Without
 * script, the page's button asks the same question.
 */
(() => {
  'use strict';

  const form = document.querySelector('form[data-step-poll]');
  if (!form) return;

  async function poll() {
    let res;
    try {
      // JSON posts need no CSRF token (no cross-site page can send them).
      res = await fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: '{}',
      });
    } catch {
      window.setTimeout(poll, 5000);
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (res.ok && body.status === 'pending') {
      window.setTimeout(poll, 2000);
      return;
    }
    if (res.ok && typeof body.redirect_to === 'string') {
      window.location.assign(body.redirect_to);
      return;
    }
    // Anything else (the sign-in ended, or a next step): the server's own page says what.
    form.submit();
  }

  window.setTimeout(poll, 2000);
})();
