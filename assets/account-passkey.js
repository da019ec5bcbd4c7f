/**
 * Passkeys in the account console (WebAuthn Level 3), over server-rendered forms: a
 * `form[data-account-passkey]` is shown only where the browser has WebAuthn; the ceremony's result
 * goes into its `credential` field and the form is posted as usual, with its CSRF token. The
 * messages come from the form's `data-msg-*` attributes, in the page's language.
 * Needs /assets/simplewebauthn-browser.js, loaded before this script.
 *
 *   data-account-passkey="register"                      options in the form's script[data-options]
 *   data-account-passkey="authenticate" data-begin="URL"  options from a JSON POST to data-begin (a step-up)
 */
(() => {
  'use strict';

  const forms = document.querySelectorAll('form[data-account-passkey]');
  if (typeof window.PublicKeyCredential !== 'function') {
    document.querySelectorAll('[data-passkey-unsupported]').forEach((el) => (el.hidden = false));
    return;
  }
  const { startAuthentication, startRegistration } = window.SimpleWebAuthnBrowser;

  const message = (form, error) =>
    (error && (error.name === 'NotAllowedError' || error.name === 'AbortError') && form.dataset.msgCancelled) ||
    (error && error.name === 'InvalidStateError' && form.dataset.msgExists) ||
    form.dataset.msgFailed;

  /** Fresh request options: a JSON post needs no CSRF token (no cross-site page can send one). */
  async function begin(url) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    if (!res.ok) throw new Error(`begin answered ${res.status}`);
    return res.json();
  }

  const ceremonies = {
    register: (form) => startRegistration({ optionsJSON: JSON.parse(form.querySelector('script[data-options]').textContent) }),
    authenticate: async (form) => startAuthentication({ optionsJSON: await begin(form.dataset.begin) }),
  };

  for (const form of forms) {
    const ceremony = ceremonies[form.dataset.accountPasskey];
    if (!ceremony) continue;
    const alert = form.querySelector('[role=alert]');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      alert.hidden = true;
      const buttons = form.querySelectorAll('button');
      buttons.forEach((b) => (b.disabled = true));
      try {
        form.elements.namedItem('credential').value = JSON.stringify(await ceremony(form));
        HTMLFormElement.prototype.submit.call(form);
      } catch (error) {
        alert.textContent = message(form, error);
        alert.hidden = false;
        buttons.forEach((b) => (b.disabled = false));
      }
    });
    form.hidden = false;
  }
})();
