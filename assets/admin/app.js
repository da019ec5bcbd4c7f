// The admin console: reads its language's messages and its CSRF token from the page, and shows one
// page of the admin API at a time, chosen by the address's fragment (#/users, #/users/<id>, ...).
import { h } from './admin-toolkit.js';
import { pages } from './admin-pages.js';

const data = JSON.parse(document.getElementById('admin-data').textContent);

/** `t('users.title', { count })`: a message of this language, `{{name}}` filled, `_one`/`_other` chosen on `count`. */
export function t(key, vars = {}) {
  const lookup = (k) => k.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), data.messages);
  const plural =
    typeof vars.count === 'number' ? (lookup(`${key}_${new Intl.PluralRules(data.lang).select(vars.count)}`) ?? lookup(`${key}_other`)) : undefined;
  const text = plural ?? lookup(key);
  if (typeof text !== 'string') return key;
  return text.replace(/\{\{(\w+)\}\}/g, (_, name) => (vars[name] === undefined ? '' : String(vars[name])));
}

/** An API error as the console shows it: the API's own description. */
class ApiError extends Error {
  constructor(status, body) {
    super(body?.error_description ?? `HTTP ${status}`);
    this.status = status;
    this.error = body?.error;
    this.description = body?.error_description;
  }
}

/**
 * Calls `/api/v1<path>` with the console session (its cookie) and its CSRF header; answers the parsed
 * JSON (undefined for 204). A session that ended (401) sends the browser to the sign-in page.
 */
export async function api(path, { method = 'GET', body, raw = false } = {}) {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', 'x-csrf-token': data.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    window.location.assign('/admin/');
    throw new ApiError(401, await res.json().catch(() => undefined));
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
  if (raw) return res;
  if (res.status === 204) return undefined;
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

const view = document.getElementById('view');
const links = [...document.querySelectorAll('.admin-nav a[data-page]')];
let navigated = false;

/** The page the fragment names (the dashboard by default) with the rest of its path. */
async function route() {
  const [name = 'dashboard', ...rest] = window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = pages[name] ? name : 'dashboard';
  for (const a of links) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = h('div');
  view.replaceChildren(root);
  const go = (hash) => {
    window.location.hash = hash;
  };
  try {
    await pages[page](root, { api, t, organization: data.organization, params: rest, go, refresh: route });
  } catch (err) {
    root.append(h('p', { class: 'error', role: 'alert' }, err?.description ?? err?.message ?? t('error.generic')));
  }
  // After a navigation (not the first load), focus goes to the new page's heading, as a page load would put it at the top.
  const heading = root.querySelector('h2');
  if (heading && navigated) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

window.addEventListener('hashchange', () => {
  navigated = true;
  void route();
});
void route();
