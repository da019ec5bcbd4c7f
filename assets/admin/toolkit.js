/* global Node */
// The console's small toolkit: elements, tables and forms built from descriptions, text only (never HTML strings).

/** An element with attributes (`on*` functions become listeners) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

let ids = 0;
const nextId = (base) => `${base}-${++ids}`;

/** A value as a cell shows it. */
export function show(value) {
  if (value === undefined || value === null || value === '') return '—';
  if (Array.isArray(value)) return value.length ? value.map(show).join(', ') : '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * A table of `rows`: `columns` are `{ key, label, render? }`; `actions(row)` gives the last cell's
 * buttons. Scrolls inside its own box on a narrow screen, so the page does not.
 */
export function table({ caption, columns, rows, actions, empty }) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  const head = h(
    'tr',
    {},
    columns.map((c) => h('th', { scope: 'col' }, c.label)),
    actions ? h('th', { scope: 'col' }, '') : null,
  );
  const body = rows.map((row) =>
    h(
      'tr',
      {},
      columns.map((c) => h('td', {}, c.render ? c.render(row) : show(row[c.key]))),
      actions ? h('td', {}, h('div', { class: 'actions' }, actions(row))) : null,
    ),
  );
  const region = h(
    'div',
    { class: 'table-scroll', role: 'region', tabindex: '0', 'aria-label': caption },
    h('table', {}, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, head), h('tbody', {}, body)),
  );
  return region;
}

/** A button that runs `run` and reports a failure in `status`. */
export function button(label, run, { kind, status } = {}) {
  return h('button', { type: 'button', class: kind, onclick: () => Promise.resolve(run()).catch((err) => status?.error(err)) }, label);
}

/** Where a form or page reports: one live region for successes and one alert for failures. */
export function statusArea(t) {
  const ok = h('p', { class: 'notice', role: 'status', hidden: true });
  const bad = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    element: h('div', {}, ok, bad),
    done(text) {
      bad.hidden = true;
      ok.textContent = text;
      ok.hidden = false;
    },
    error(err) {
      ok.hidden = true;
      bad.textContent = err?.description ?? err?.message ?? t('error.generic');
      bad.hidden = false;
    },
    clear() {
      ok.hidden = true;
      bad.hidden = true;
    },
  };
}

/** A field's input from its description; `value` is the current value, shown as the type needs. */
function input(field, id) {
  const common = { id, name: field.name, required: field.required, autocomplete: field.autocomplete ?? 'off' };
  switch (field.type) {
    case 'checkbox':
      return h('input', { ...common, type: 'checkbox', checked: field.value === true });
    case 'select':
      return h(
        'select',
        common,
        field.options.map((o) => {
          const [value, label] = Array.isArray(o) ? o : [o, o];
          return h('option', { value, selected: String(field.value ?? '') === String(value) }, label);
        }),
      );
    case 'lines':
      return h('textarea', { ...common, rows: 3 }, (field.value ?? []).join('\n'));
    case 'json':
      return h('textarea', { ...common, rows: 6, spellcheck: 'false', class: 'code' }, field.value === undefined ? '' : JSON.stringify(field.value, null, 2));
    case 'textarea':
      return h('textarea', { ...common, rows: 6 }, field.value ?? '');
    default:
      return h('input', { ...common, type: field.type ?? 'text', value: field.value ?? '', step: field.type === 'number' ? 'any' : undefined });
  }
}

/** The field's value read back, typed as the API wants it (undefined: left empty). */
function read(field, el) {
  const raw = el.value;
  switch (field.type) {
    case 'checkbox':
      return el.checked;
    case 'number':
      return raw === '' ? undefined : Number(raw);
    case 'lines': {
      const lines = raw
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      return field.numbers ? lines.map(Number) : lines;
    }
    case 'json':
      if (raw.trim() === '') return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        throw Object.assign(new Error(field.invalidJson), { field: field.name });
      }
    default:
      return raw === '' ? (field.emptyIsNull ? null : undefined) : raw;
  }
}

/**
 * A form of `fields` ({ name, label, type, options, value, required, help }); `submit(values)` runs
 * on submission. An API error whose description begins with a field's name marks that field
 * (aria-invalid, aria-describedby its message) and moves the focus there; any other goes to the alert.
 */
export function form({ t, title, fields, submitLabel, submit, kind }) {
  const status = statusArea(t);
  const parts = fields.map((f) => {
    const id = nextId(`f-${f.name.replace(/[^a-z0-9]/gi, '-')}`);
    const el = input(f, id);
    const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const help = f.help ? h('p', { class: 'muted', id: `${id}-help` }, f.help) : null;
    if (help) el.setAttribute('aria-describedby', help.id);
    const label = f.type === 'checkbox' ? h('label', { class: 'check', for: id }, el, f.label) : h('label', { for: id }, f.label);
    return { f, el, error, help, node: f.type === 'checkbox' ? h('div', {}, label, error) : h('div', {}, label, help, el, error) };
  });
  const clearErrors = () =>
    parts.forEach((p) => {
      p.el.removeAttribute('aria-invalid');
      if (p.help) p.el.setAttribute('aria-describedby', p.help.id);
      else p.el.removeAttribute('aria-describedby');
      p.error.hidden = true;
    });
  const markField = (name, text) => {
    const p = parts.find((x) => x.f.name === name || name.endsWith(`.${x.f.name}`));
    if (!p) return false;
    p.el.setAttribute('aria-invalid', 'true');
    p.el.setAttribute('aria-describedby', [p.error.id, p.help?.id].filter(Boolean).join(' '));
    p.error.textContent = text;
    p.error.hidden = false;
    p.el.focus();
    return true;
  };
  const el = h(
    'form',
    {
      novalidate: true,
      async onsubmit(event) {
        event.preventDefault();
        clearErrors();
        status.clear();
        try {
          const values = {};
          for (const p of parts) {
            const v = read(p.f, p.el);
            if (v !== undefined) values[p.f.name] = v;
          }
          const message = await submit(values);
          if (message) status.done(message);
        } catch (err) {
          const field = err?.field ?? /^([A-Za-z0-9_.[\]]+):/.exec(err?.description ?? '')?.[1];
          if (!(field && markField(field.replace(/\[\d+\]/g, ''), err.description ?? err.message))) status.error(err);
        }
      },
    },
    title ? h('h3', {}, title) : null,
    parts.map((p) => p.node),
    h('button', { type: 'submit', class: kind }, submitLabel),
    status.element,
  );
  return el;
}

/** A section with a heading. */
export const section = (title, ...children) => h('section', {}, h('h3', {}, title), ...children);
