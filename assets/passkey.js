/**
 * Passkeys on the sign-in pages (WebAuthn Level 3), as progressive enhancement over server-rendered
 * forms. A `form[data-passkey]` is rendered hidden and shown only where the browser has WebAuthn;
 * the ceremony's result goes into the form's `credential` field and the form is submitted as usual,
 * with its CSRF token. Needs /assets/simplewebauthn-browser.js, loaded before this script.
 *
 *   data-passkey="authenticate" data-begin="URL"  sign in with a passkey (options from a JSON POST to data-begin)
 *     data-conditional                           also offer the passkeys in the username field's autofill
 *   data-passkey="register"                      create a passkey from the options in its script[data-options]
 */
(() => {
  'use strict';

  const { startAuthentication, startRegistration } = window.SimpleWebAuthnBrowser;

  /** The server refused to start a ceremony; not the authenticator's doing. */
  class BeginError extends Error {
    name = 'BeginError';
  }

  /** What a form without its own `data-messages` (in the page's language) says, by the error's name. */
  const MESSAGES = {
    NotAllowedError: 'The passkey request was cancelled or timed out. Try again.',
    AbortError: 'The passkey request was cancelled. Try again.',
    InvalidStateError: 'This device already holds a passkey for your account.',
    SecurityError: 'Passkeys cannot be used on this address.',
    BeginError: 'The passkey request could not be started. Reload the page and try again.',
    other: 'Your passkey could not be used. Try again, or use another way.',
  };
  function describe(form, error) {
    let own = {};
    try {
      own = JSON.parse(form.dataset.messages || '{}');
    } catch {
      // A page's broken messages fall back to these.
    }
    const messages = { ...MESSAGES, ...own };
    return messages[error && error.name] || messages.other;
  }

  function showError(form, error) {
    const alert = form.querySelector('[role=alert]');
    alert.textContent = describe(form, error);
    alert.hidden = false;
  }

  function clearError(form) {
    const alert = form.querySelector('[role=alert]');
    alert.textContent = '';
    alert.hidden = true;
  }

  /** Fresh request options: each challenge is good once. JSON posts need no CSRF token (no cross-site page can send them). */
  async function begin(form) {
    const res = await fetch(form.dataset.begin, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{}',
    });
    if (!res.ok) throw new BeginError(`begin answered ${res.status}`);
    return res.json();
  }

  /** A plain form submission: the server answers with the next page, or this one again with its error. */
  function submitWith(form, credential) {
    form.elements.namedItem('credential').value = JSON.stringify(credential);
    HTMLFormElement.prototype.submit.call(form);
  }

  /** On the ceremony's own submit: buttons stay disabled while it runs, and again if it succeeded (the page is leaving). */
  function onSubmit(form, ceremony, afterFailure) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearError(form);
      const buttons = form.querySelectorAll('button');
      buttons.forEach((b) => (b.disabled = true));
      try {
        submitWith(form, await ceremony());
      } catch (error) {
        showError(form, error);
        buttons.forEach((b) => (b.disabled = false));
        afterFailure?.();
      }
    });
  }

  /**
   * Conditional mediation: the browser lists passkeys in the username field's autofill
   * (autocomplete="username webauthn"), and picking one signs in at once.
   */
  async function offerInAutofill(form) {
    const available =
      typeof PublicKeyCredential.isConditionalMediationAvailable === 'function' && (await PublicKeyCredential.isConditionalMediationAvailable());
    if (!available) return;
    let optionsJSON;
    try {
      optionsJSON = await begin(form);
    } catch {
      // Nobody asked for this one: the button still works.
      return;
    }
    try {
      submitWith(form, await startAuthentication({ optionsJSON, useBrowserAutofill: true }));
    } catch (error) {
      // The button's ceremony cancels this one (AbortError): that is no failure.
      if (error && error.name !== 'AbortError') showError(form, error);
    }
  }

  if (typeof window.PublicKeyCredential !== 'function') {
    // The other methods, rendered unfolded, are all there is here.
    document.querySelectorAll('[data-passkey-unsupported]').forEach((el) => (el.hidden = false));
    return;
  }

  // A passkey can run: the other methods fold under "Try another way".
  document.querySelectorAll('details[data-passkey-others]').forEach((el) => (el.open = false));

  for (const form of document.querySelectorAll('form[data-passkey="authenticate"]')) {
    const conditional = form.hasAttribute('data-conditional');
    // The button's ceremony replaces the autofill's (one open challenge per login), so a failed one offers autofill again.
    onSubmit(form, async () => startAuthentication({ optionsJSON: await begin(form) }), conditional ? () => void offerInAutofill(form) : undefined);
    form.hidden = false;
    if (conditional) void offerInAutofill(form);
  }

  for (const form of document.querySelectorAll('form[data-passkey="register"]')) {
    const optionsJSON = JSON.parse(form.querySelector('script[data-options]').textContent);
    onSubmit(form, () => startRegistration({ optionsJSON }));
    form.hidden = false;
  }
})();
