/* global atob, btoa, console, crypto, indexedDB, location, navigator, Notification, TextEncoder */
// The device page: registers this browser for prompts (a non-extractable ES256 key kept in
// IndexedDB, and a Web Push subscription), and answers a prompt with a signature by that key.
(() => {
  const $ = (s) => document.querySelector(s);
  // The page's texts, in its language.
  const text = $('[data-prompt-texts]').dataset;
  const status = (message) => ($('[data-prompt-status]').textContent = message);
  /** A failure the user can act on says what; anything else is a plain failure (details stay in the console). */
  const fail = (e) => {
    console.error(e);
    status(e.userText || text.failed);
  };
  const failure = (userText) => Object.assign(new Error(userText), { userText });
  const b64url = (bytes) =>
    btoa(String.fromCharCode(...new Uint8Array(bytes)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
  const fromB64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const json = async (url, body) => {
    const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error_description || `request failed (${res.status})`);
    return data;
  };

  const store = (mode, run) =>
    new Promise((resolve, reject) => {
      const open = indexedDB.open('idp-prompt', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('keys');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const req = run(open.result.transaction('keys', mode).objectStore('keys'));
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      };
    });
  const sign = async (privateKey, text) => b64url(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(text)));

  async function enable() {
    const reg = await navigator.serviceWorker.register('/prompt/sw.js', { scope: '/prompt/' });
    if ((await Notification.requestPermission()) !== 'granted') throw failure(text.blocked);
    const start = await json('/api/v1/mfa/prompt/enroll', {});
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64url(start.vapid_public_key) });
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', keys.publicKey);
    const proof = await sign(keys.privateKey, `idp-prompt-register-v1\n${start.nonce}`);
    const name = $('#device-name').value.trim();
    const device = await json('/api/v1/mfa/prompt/confirm', {
      credential: { transport: 'webpush', public_key: { kty, crv, x, y }, proof, subscription: subscription.toJSON() },
      ...(name ? { name } : {}),
    });
    await store('readwrite', (s) => s.put({ id: device.id, privateKey: keys.privateKey }, 'device'));
    status(text.enabled);
  }

  async function answer(id, decision, number) {
    const device = await store('readonly', (s) => s.get('device'));
    if (!device) throw failure(text.notRegistered);
    const signature = await sign(device.privateKey, `idp-prompt-answer-v1\n${id}\n${decision}\n${number ?? ''}`);
    const result = await json(`/api/v1/prompts/${encodeURIComponent(id)}/respond`, { decision, ...(number === undefined ? {} : { number }), signature });
    $('[data-prompt-answer]').hidden = true;
    status(result.status === 'approved' ? text.approved : text.denied);
  }

  async function show(id) {
    const prompt = await json(`/api/v1/prompts/${encodeURIComponent(id)}`);
    const someone = $('[data-prompt-someone]');
    const values = { app: prompt.app, location: prompt.location, time: new Date(prompt.time).toLocaleTimeString(document.documentElement.lang) };
    someone.textContent = someone.dataset.template.replace(/\{(app|location|time)\}/g, (_, field) => values[field]);
    const choices = $('[data-choices]');
    for (const n of prompt.choices) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = String(n);
      button.addEventListener('click', () => answer(id, 'approve', n).catch(fail));
      choices.append(button);
    }
    $('[data-deny]').addEventListener('click', () => answer(id, 'deny').catch(fail));
    $('[data-prompt-answer]').hidden = false;
    $('[data-prompt-enroll]').hidden = true;
  }

  $('[data-enable]').addEventListener('click', () => enable().catch(fail));
  const id = location.hash.slice(1);
  if (id) show(id).catch(fail);
})();
