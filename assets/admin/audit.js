/* global URL, URLSearchParams */
// The audit trail: filtered pages of events, the hash chain's verification and an export of the filtered events.
import { button, form, h, section, show, statusArea, table } from './admin-toolkit.js';

export async function auditPage(root, { api, t }) {
  root.append(h('h2', {}, t('pages.audit')));
  const status = statusArea(t);
  const list = h('div');
  const more = h('div');
  let filters = {};
  const query = (extra = {}) => new URLSearchParams(Object.entries({ ...filters, ...extra }).filter(([, v]) => v !== undefined && v !== ''));
  let rows = [];
  async function load(cursor) {
    const body = await api(`/audit-events?${query({ limit: '50', ...(cursor ? { cursor } : {}) })}`);
    rows = cursor ? [...rows, ...body.events] : body.events;
    list.replaceChildren(
      table({
        caption: t('pages.audit'),
        columns: ['at', 'type', 'outcome', 'actor', 'subject', 'ip'].map((key) => ({ key, label: t(`fields.${key}`) })),
        rows,
        empty: t('common.none'),
      }),
    );
    more.replaceChildren(body.next_cursor ? button(t('audit.more'), () => load(body.next_cursor), { kind: 'secondary', status }) : '');
  }
  const verdict = h('div');
  const download = h('div');
  root.append(
    form({
      t,
      title: t('audit.filters'),
      fields: [
        { name: 'type', label: t('fields.type'), help: t('help.event_type') },
        { name: 'actor', label: t('fields.actor') },
        { name: 'subject', label: t('fields.subject') },
        {
          name: 'outcome',
          label: t('fields.outcome'),
          type: 'select',
          options: [
            ['', t('common.any')],
            ['success', t('audit.success')],
            ['failure', t('audit.failure')],
          ],
        },
        { name: 'from', label: t('fields.from'), help: t('help.instant') },
        { name: 'to', label: t('fields.to'), help: t('help.instant') },
      ],
      submitLabel: t('audit.apply'),
      kind: 'secondary',
      async submit(v) {
        filters = v;
        await load();
      },
    }),
    status.element,
    list,
    more,
    section(
      t('audit.integrity'),
      h(
        'div',
        { class: 'actions' },
        button(
          t('audit.verify'),
          async () => {
            const result = await api('/audit-events/verify');
            verdict.replaceChildren(
              h(
                'p',
                { class: result.valid === false ? 'error' : 'notice', role: 'status' },
                result.valid === false ? t('audit.chain_broken') : t('audit.chain_intact'),
              ),
              h(
                'dl',
                { class: 'facts' },
                Object.entries(result).flatMap(([k, v]) => [h('dt', {}, t(`fields.${k}`)), h('dd', {}, show(v))]),
              ),
            );
          },
          { kind: 'secondary', status },
        ),
        button(
          t('audit.export'),
          async () => {
            const res = await api(`/audit-events/export?${query()}`, { raw: true });
            const url = URL.createObjectURL(await res.blob());
            download.replaceChildren(h('a', { href: url, download: 'audit-events.ndjson' }, t('audit.download')));
          },
          { kind: 'secondary', status },
        ),
      ),
      verdict,
      download,
    ),
  );
  await load();
}
