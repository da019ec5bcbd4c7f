/* global location, setTimeout */
// The sign-in page's prompt: starts it, shows the number, and polls until the device has answered.
(() => {
  const begin = document.querySelector('form[data-prompt="begin"]');
  if (!begin) return;
  const csrf = begin.querySelector('input[name="csrf"]').value;
  const base = begin.action.replace(/\/begin$/, '');
  const note = document.createElement('p');
  note.setAttribute('role', 'status');
  begin.after(note);
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
    if (ok && body.status === 'expired') return (note.textContent = 'The prompt expired. Send a new one.');
    if (ok) return location.reload();
    note.textContent = body.error === 'invalid_code' ? 'The prompt was denied.' : body.error_description || 'Something went wrong.';
  }
  begin.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { ok, body } = await post(`${base}/begin`);
    if (!ok) return (note.textContent = body.error_description || 'The prompt could not be sent.');
    note.textContent = `Pick ${body.number} on your device.`;
    setTimeout(poll, 2000);
  });
})();
