/* global location, setTimeout */
// The sign-in page's prompt: starts it, shows the number, and polls until the device has answered.
// Its texts are the form's data attributes, in the page's language.
(() => {
  const begin = document.querySelector('form[data-prompt="begin"]');
  if (!begin) return;
  const text = begin.dataset;
  const csrf = begin.querySelector('input[name="csrf"]').value;
  const base = begin.action.replace(/\/begin$/, '');
  const note = document.createElement('p');
  note.setAttribute('role', 'status');
  begin.after(note);
  const say = (message, number) => {
    note.textContent = message;
    if (number === undefined) return;
    const strong = document.createElement('strong');
    strong.className = 'key';
    strong.setAttribute('data-prompt-number', '');
    strong.textContent = String(number);
    note.append(' ', strong);
  };
  const post = async (url) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ csrf }),
    });
    return { ok: res.ok, body: await res.json().catch(() => ({})) };
  };
  async function poll() {
    const { ok, body } = await post(`${base}/status`);
    if (ok && body.status === 'pending') return setTimeout(poll, 2000);
    if (ok && body.redirect_to) return location.assign(body.redirect_to);
    if (ok && body.status === 'expired') return say(text.expired);
    if (ok) return location.reload();
    say(body.error === 'invalid_code' ? text.denied : text.failed);
  }
  begin.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { ok, body } = await post(`${base}/begin`);
    if (!ok) return say(text.notSent);
    say(text.pick, body.number);
    setTimeout(poll, 2000);
  });
})();
