/* global URLSearchParams */
// Users: search, create, and each user's page (profile, status, unlock, factors, temporary password, sessions, devices).
import { button, form, h, section, show, statusArea, table } from './admin-toolkit.js';
import { shownOnce } from './admin-resource.js';

const columns = (t) => [
  { key: 'username', label: t('fields.username') },
  { key: 'email', label: t('fields.email') },
  { key: 'status', label: t('fields.status'), render: (u) => t(`status.${u.is_locked ? 'locked' : u.status}`) },
  { key: 'roles', label: t('fields.roles') },
  { key: 'organization', label: t('fields.organization') },
];

export async function usersPage(root, ctx) {
  if (ctx.params[0]) return userPage(root, ctx, ctx.params[0]);
  const { api, t, go, organization } = ctx;
  root.append(h('h2', {}, t('pages.users')));
  const results = h('div');
  async function search(values = {}) {
    const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
    const { users } = await api(`/users?${query}`);
    results.replaceChildren(
      table({
        caption: t('pages.users'),
        columns: columns(t),
        rows: users,
        empty: t('users.none_found'),
        actions: (u) => [button(t('common.open'), () => go(`#/users/${u.id}`), { kind: 'secondary' })],
      }),
    );
  }
  const created = h('div');
  root.append(
    form({
      t,
      title: t('users.search'),
      fields: [
        { name: 'q', label: t('users.search_by'), type: 'search', help: t('users.search_help') },
        {
          name: 'status',
          label: t('fields.status'),
          type: 'select',
          options: [['', t('common.any')], ...['active', 'locked', 'disabled'].map((s) => [s, t(`status.${s}`)])],
        },
      ],
      submitLabel: t('users.search_button'),
      kind: 'secondary',
      submit: async (values) => {
        await search(values);
      },
    }),
    h(
      'details',
      {},
      h('summary', {}, t('users.create')),
      form({
        t,
        fields: [
          { name: 'external_id', label: t('fields.external_id'), required: true },
          { name: 'username', label: t('fields.username') },
          { name: 'email', label: t('fields.email'), type: 'email' },
          { name: 'phone', label: t('fields.phone'), type: 'tel' },
          { name: 'password', label: t('fields.password'), type: 'password', autocomplete: 'new-password' },
          { name: 'roles', label: t('fields.roles'), type: 'lines', help: t('help.lines') },
          ...(organization ? [] : [{ name: 'organization', label: t('fields.organization_slug'), help: t('help.organization_slug') }]),
        ],
        submitLabel: t('users.create'),
        async submit(values) {
          if (!values.roles?.length) delete values.roles;
          const { user } = await api('/users', { method: 'POST', body: { user: values } });
          created.replaceChildren(h('p', {}, h('a', { href: `#/users/${user.id}` }, t('users.open_created'))));
          await search();
          return t('common.created');
        },
      }),
      created,
    ),
    results,
  );
  await search();
}

async function userPage(root, ctx, id) {
  const { api, t } = ctx;
  const { user } = await api(`/users/${encodeURIComponent(id)}`);
  const status = statusArea(t);
  const reload = () => void ctx.refresh();
  const act = (label, run, kind = 'secondary') =>
    button(
      label,
      async () => {
        status.done(await run());
      },
      { kind, status },
    );
  const secret = h('div');
  const ext = encodeURIComponent(user.external_id);
  root.append(
    h('p', {}, h('a', { href: '#/users' }, t('common.back'))),
    h('h2', {}, user.username ?? user.email ?? user.external_id),
    status.element,
    h(
      'dl',
      { class: 'facts' },
      [
        ...columns(t),
        { key: 'external_id', label: t('fields.external_id') },
        { key: 'phone', label: t('fields.phone') },
        { key: 'last_login_at', label: t('fields.last_login_at') },
        { key: 'created_at', label: t('fields.created_at') },
      ].flatMap((c) => [h('dt', {}, c.label), h('dd', {}, c.render ? c.render(user) : show(user[c.key]))]),
    ),
    section(
      t('users.actions'),
      h(
        'div',
        { class: 'actions' },
        user.status === 'disabled'
          ? act(
              t('users.enable'),
              async () => (await api(`/users/${id}`, { method: 'PATCH', body: { user: { status: 'active' } } }), reload(), t('common.saved')),
            )
          : act(
              t('users.disable'),
              async () => (await api(`/users/${id}`, { method: 'PATCH', body: { user: { status: 'disabled' } } }), reload(), t('common.saved')),
              'danger',
            ),
        act(t('users.unlock'), async () => (await api(`/users/unlock?externalUserId=${ext}`, { method: 'POST', body: {} }), t('users.unlocked'))),
        act(t('users.reset_factors'), async () => {
          if (!window.confirm(t('users.confirm_reset'))) return t('common.cancelled');
          const { removed } = await api(`/users/${id}/factors/reset`, { method: 'POST', body: {} });
          return t('users.factors_removed', { count: Array.isArray(removed) ? removed.length : Number(removed ?? 0) });
        }),
        act(t('users.temporary_password'), async () => {
          secret.replaceChildren(shownOnce(t, await api(`/users/${id}/temporary-password`, { method: 'POST', body: {} })));
          return t('users.temporary_password_issued');
        }),
      ),
      secret,
    ),
    section(
      t('common.edit'),
      form({
        t,
        fields: [
          { name: 'username', label: t('fields.username'), value: user.username },
          { name: 'email', label: t('fields.email'), type: 'email', value: user.email, emptyIsNull: true },
          { name: 'phone', label: t('fields.phone'), type: 'tel', value: user.phone, emptyIsNull: true },
          { name: 'roles', label: t('fields.roles'), type: 'lines', value: user.roles, help: t('help.lines') },
        ],
        submitLabel: t('common.save'),
        async submit(values) {
          await api(`/users/${id}`, { method: 'PATCH', body: { user: values } });
          return t('common.saved');
        },
      }),
    ),
  );
  const sessions = h('div');
  const devices = h('div');
  root.append(section(t('users.sessions'), sessions), section(t('users.devices'), devices));
  async function loadSessions() {
    const body = await api(`/users/${id}/sessions`);
    sessions.replaceChildren(
      table({
        caption: t('users.sessions'),
        columns: [
          { key: 'device', label: t('fields.device') },
          { key: 'location', label: t('fields.location') },
          { key: 'created_at', label: t('fields.created_at') },
          { key: 'last_active', label: t('fields.last_active') },
        ],
        rows: body.sessions,
        empty: t('common.none'),
        actions: (s) => [
          button(t('users.end_session'), async () => (await api(`/users/${id}/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' }), loadSessions()), {
            kind: 'secondary',
            status,
          }),
        ],
      }),
      body.sessions.length
        ? button(t('users.end_all_sessions'), async () => (await api(`/users/${id}/sessions`, { method: 'DELETE' }), loadSessions()), {
            kind: 'danger',
            status,
          })
        : '',
    );
  }
  async function loadDevices() {
    const body = await api(`/users/${id}/devices`);
    devices.replaceChildren(
      table({
        caption: t('users.devices'),
        columns: [
          { key: 'name', label: t('fields.name') },
          { key: 'ip', label: t('fields.ip') },
          { key: 'last_used_at', label: t('fields.last_used_at') },
          { key: 'expires_at', label: t('fields.expires_at') },
        ],
        rows: body.devices,
        empty: t('common.none'),
        actions: (d) => [
          button(t('users.revoke_device'), async () => (await api(`/users/${id}/devices/${d.id}`, { method: 'DELETE' }), loadDevices()), {
            kind: 'secondary',
            status,
          }),
        ],
      }),
    );
  }
  await Promise.all([loadSessions(), loadDevices()]);
}
