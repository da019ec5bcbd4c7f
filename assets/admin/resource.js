// A page for one kind of resource of the admin API: its list, a form to create one, and each one's
// page with an edit form, its own actions and deletion.
import { button, form, h, section, show, statusArea, table } from './admin-toolkit.js';

/**
 * `spec`: { page, title, path, listKey, id(row), columns, create?: { fields(), body(values) },
 * edit?: { fields(row), body(values) }, single?(body): row, extra?(row, root, ctx, status), remove?: true,
 * listQuery?: string }.
 */
export function resourcePage(spec) {
  return async (root, ctx) => {
    const { api, t, params, go } = ctx;
    if (params[0]) return detail(root, ctx, params[0]);
    root.append(h('h2', {}, spec.title(t)));
    const list = h('div');
    async function reload() {
      const body = await api(`${spec.path}${spec.listQuery ?? ''}`);
      const rows = spec.listKey ? body[spec.listKey] : body;
      list.replaceChildren(
        table({
          caption: spec.title(t),
          columns: spec.columns(t),
          rows,
          empty: t('common.none'),
          actions: (row) => [button(t('common.open'), () => go(`#/${spec.page}/${encodeURIComponent(spec.id(row))}`), { kind: 'secondary' })],
        }),
      );
    }
    if (spec.create) {
      const created = h('div');
      root.append(
        h(
          'details',
          {},
          h('summary', {}, t('common.create')),
          form({
            t,
            fields: spec.create.fields(t, ctx),
            submitLabel: t('common.create'),
            async submit(values) {
              const result = await api(spec.path, { method: 'POST', body: spec.create.body(values, ctx) });
              created.replaceChildren(shownOnce(t, result));
              await reload();
              return t('common.created');
            },
          }),
          created,
        ),
      );
    }
    root.append(list);
    await reload();
  };

  async function detail(root, ctx, id) {
    const { api, t, go } = ctx;
    const url = `${spec.path}/${encodeURIComponent(id)}`;
    const fetched = await api(url);
    const row = spec.single ? spec.single(fetched) : fetched;
    const status = statusArea(t);
    root.append(
      h('p', {}, h('a', { href: `#/${spec.page}` }, t('common.back'))),
      h('h2', {}, `${spec.title(t)}: ${spec.id(row)}`),
      status.element,
      h(
        'dl',
        { class: 'facts' },
        spec.columns(t).flatMap((c) => [h('dt', {}, c.label), h('dd', {}, c.render ? c.render(row) : show(row[c.key]))]),
      ),
    );
    const after = h('div');
    if (spec.edit) {
      root.append(
        section(
          t('common.edit'),
          form({
            t,
            fields: spec.edit.fields(row, t, ctx),
            submitLabel: t('common.save'),
            async submit(values) {
              const result = await api(url, { method: spec.edit.method ?? 'PATCH', body: spec.edit.body(values, row) });
              after.replaceChildren(shownOnce(t, result));
              return t('common.saved');
            },
          }),
        ),
        after,
      );
    }
    if (spec.extra) await spec.extra(row, root, ctx, status);
    if (spec.remove !== false)
      root.append(
        section(
          t('common.danger_zone'),
          button(
            t('common.delete'),
            async () => {
              if (!window.confirm(t('common.confirm_delete'))) return;
              await api(url, { method: 'DELETE' });
              go(`#/${spec.page}`);
            },
            { kind: 'danger', status },
          ),
        ),
      );
  }
}

/** A secret the API shows once (a client secret, a key, a webhook secret), with the advice to copy it now. */
export function shownOnce(t, result) {
  const secret = result?.client_secret ?? result?.key ?? result?.secret ?? result?.temporary_password ?? result?.password;
  if (typeof secret !== 'string') return h('span');
  return h('div', { class: 'notice', role: 'status' }, h('p', {}, t('common.shown_once')), h('p', { class: 'key' }, secret));
}
