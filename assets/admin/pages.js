// Every page of the console, by the name its fragment and navigation use.
import { button, form, h, section, show, table } from './admin-toolkit.js';
import { resourcePage, shownOnce } from './admin-resource.js';
import { usersPage } from './admin-users.js';
import { organizationsPage } from './admin-organizations.js';
import { auditPage } from './admin-audit.js';

const MFA_METHODS = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email', 'prompt', 'security_questions'];
const ACRS = ['aal1', 'aal2', 'aal3'];
const optional = (t, values) => [['', t('common.not_set')], ...values.map((v) => [v, v])];
/** Drops what the form left empty, so the API keeps (or defaults) it. */
const compact = (values) => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0)));

/** The analytics dashboard (its module renders the page's heading); an alert if the module does not load. */
async function dashboardPage(root, { api, t, organization }) {
  const mount = h('div');
  root.append(mount);
  let module;
  try {
    module = await import('./admin-dashboard.js');
  } catch {
    mount.append(h('h1', {}, t('pages.dashboard')), h('p', { class: 'error', role: 'alert' }, t('dashboard.placeholder')));
    return;
  }
  await module.renderDashboard(mount, { api: (path) => api(path), t: (key, vars) => t(`analytics.${key}`, vars), organization });
}

const clientFields = (t, c = {}) => [
  { name: 'client_name', label: t('fields.client_name'), value: c.client_name },
  { name: 'redirect_uris', label: t('fields.redirect_uris'), type: 'lines', value: c.redirect_uris, help: t('help.lines') },
  { name: 'post_logout_redirect_uris', label: t('fields.post_logout_redirect_uris'), type: 'lines', value: c.post_logout_redirect_uris, help: t('help.lines') },
  {
    name: 'grant_types',
    label: t('fields.grant_types'),
    type: 'lines',
    value: c.grant_types ?? ['authorization_code', 'refresh_token'],
    help: t('help.lines'),
  },
  {
    name: 'token_endpoint_auth_method',
    label: t('fields.token_endpoint_auth_method'),
    type: 'select',
    value: c.token_endpoint_auth_method ?? 'client_secret_basic',
    options: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
  },
  { name: 'first_party', label: t('fields.first_party'), type: 'checkbox', value: c.first_party },
  {
    name: 'mfa_policy',
    label: t('fields.mfa_policy'),
    type: 'json',
    value: c.mfa_policy ?? undefined,
    help: t('help.mfa_policy'),
    invalidJson: t('error.json'),
  },
];

const clientsPage = resourcePage({
  page: 'clients',
  title: (t) => t('pages.clients'),
  path: '/clients',
  listKey: 'clients',
  id: (c) => c.client_id,
  columns: (t) => [
    { key: 'client_id', label: t('fields.client_id') },
    { key: 'client_name', label: t('fields.client_name') },
    { key: 'first_party', label: t('fields.first_party'), render: (c) => t(c.first_party ? 'common.yes' : 'common.no') },
    { key: 'mfa_policy', label: t('fields.mfa_policy') },
  ],
  create: { fields: (t) => clientFields(t), body: compact },
  edit: {
    fields: (c, t) => [...clientFields(t, c), { name: 'rotate_secret', label: t('clients.rotate_secret'), type: 'checkbox' }],
    body: (v) => ({ ...compact(v), first_party: v.first_party, ...(v.rotate_secret ? { rotate_secret: true } : {}) }),
  },
});

const samlFields = (t, sp = {}, creating = false) => [
  { name: 'metadata', label: t('fields.metadata'), type: 'textarea', required: creating, help: creating ? undefined : t('help.metadata_keep') },
  { name: 'name_id_format', label: t('fields.name_id_format'), value: sp.name_id_format },
  { name: 'attribute_mapping', label: t('fields.attribute_mapping'), type: 'json', value: sp.attribute_mapping, invalidJson: t('error.json') },
  { name: 'sign_assertions', label: t('fields.sign_assertions'), type: 'checkbox', value: sp.sign_assertions ?? true },
  { name: 'encrypt_assertions', label: t('fields.encrypt_assertions'), type: 'checkbox', value: sp.encrypt_assertions },
  { name: 'enabled', label: t('fields.enabled'), type: 'checkbox', value: sp.enabled ?? true },
];

const samlPage = resourcePage({
  page: 'saml',
  title: (t) => t('pages.saml'),
  path: '/saml/service-providers',
  listKey: 'service_providers',
  id: (sp) => sp.id,
  columns: (t) => [
    { key: 'entity_id', label: t('fields.entity_id') },
    { key: 'name_id_format', label: t('fields.name_id_format') },
    { key: 'enabled', label: t('fields.enabled'), render: (sp) => t(sp.enabled ? 'common.yes' : 'common.no') },
  ],
  create: {
    fields: (t) => samlFields(t, {}, true),
    body: (v) => ({ ...compact(v), sign_assertions: v.sign_assertions, encrypt_assertions: v.encrypt_assertions, enabled: v.enabled }),
  },
  edit: {
    fields: (sp, t) => samlFields(t, sp),
    body: (v) => ({ ...compact(v), sign_assertions: v.sign_assertions, encrypt_assertions: v.encrypt_assertions, enabled: v.enabled }),
  },
});

const ruleFields = (t, r = {}) => [
  { name: 'name', label: t('fields.name'), value: r.name, required: true },
  { name: 'condition', label: t('fields.condition'), type: 'textarea', value: r.condition, required: true, help: t('help.condition') },
  {
    name: 'outcome',
    label: t('fields.outcome'),
    type: 'select',
    value: r.outcome,
    options: ['require_mfa', 'skip_mfa', 'deny'].map((o) => [o, t(`rules.${o}`)]),
  },
  { name: 'methods', label: t('fields.methods'), type: 'lines', value: r.methods ?? [], help: t('help.methods', { methods: MFA_METHODS.join(', ') }) },
  { name: 'min_acr', label: t('fields.min_acr'), type: 'select', value: r.min_acr ?? '', options: optional(t, ACRS) },
  { name: 'priority', label: t('fields.priority'), type: 'number', value: r.priority ?? 100, required: true },
  { name: 'enabled', label: t('fields.enabled'), type: 'checkbox', value: r.enabled ?? true },
];
const ruleBody = (v) => ({ ...compact(v), enabled: v.enabled, methods: v.methods?.length ? v.methods : null, min_acr: v.min_acr || null });

const rulesResource = resourcePage({
  page: 'rules',
  title: (t) => t('pages.rules'),
  path: '/policy/rules',
  listKey: 'rules',
  id: (r) => r.id,
  columns: (t) => [
    { key: 'name', label: t('fields.name') },
    { key: 'condition', label: t('fields.condition') },
    { key: 'outcome', label: t('fields.outcome'), render: (r) => t(`rules.${r.outcome}`) },
    { key: 'priority', label: t('fields.priority') },
    { key: 'enabled', label: t('fields.enabled'), render: (r) => t(r.enabled ? 'common.yes' : 'common.no') },
  ],
  create: { fields: (t) => ruleFields(t), body: ruleBody },
  edit: { fields: (r, t) => ruleFields(t, r), body: ruleBody },
});

/** The rules with the policy simulator: what decide() answers for a login described here. */
async function rulesPage(root, ctx) {
  await rulesResource(root, ctx);
  if (ctx.params[0]) return;
  const { api, t } = ctx;
  const result = h('div', { role: 'status' });
  root.append(
    section(
      t('rules.simulator'),
      form({
        t,
        fields: [
          { name: 'username', label: t('fields.username') },
          { name: 'roles', label: t('fields.roles'), type: 'lines', help: t('help.lines') },
          { name: 'client_id', label: t('fields.client_id') },
          { name: 'ip', label: t('fields.ip') },
          { name: 'country', label: t('fields.country'), help: t('help.country') },
          { name: 'risk', label: t('fields.risk'), type: 'number', help: t('help.risk') },
          { name: 'device_known', label: t('fields.device_known'), type: 'checkbox' },
          { name: 'enrolled', label: t('fields.enrolled'), type: 'lines', help: t('help.methods', { methods: MFA_METHODS.join(', ') }) },
          { name: 'acr_values', label: t('fields.acr_values'), type: 'select', options: optional(t, ACRS) },
        ],
        submitLabel: t('rules.simulate'),
        kind: 'secondary',
        async submit(v) {
          const answer = await api('/policy/simulate', {
            method: 'POST',
            body: compact({
              context: {
                user: compact({ username: v.username, roles: v.roles }),
                client: { id: v.client_id ?? '', first_party: false },
                ip: v.ip ?? '',
                country: v.country ?? null,
                device_known: v.device_known,
                risk: v.risk ?? null,
              },
              enrolled: v.enrolled,
              acr_values: v.acr_values,
            }),
          });
          result.replaceChildren(
            h(
              'dl',
              { class: 'facts' },
              h('dt', {}, t('rules.decision')),
              h('dd', {}, show(answer.decision.outcome)),
              h('dt', {}, t('rules.reasons')),
              h('dd', {}, show(answer.reasons)),
            ),
          );
          return undefined;
        },
      }),
      result,
    ),
  );
}

const SCOPES = ['idp:read', 'idp:write', 'idp:mfa:write', 'sentinel:write', 'break_glass:request', 'break_glass:approve', 'admin'];

const apiKeysPage = resourcePage({
  page: 'api_keys',
  title: (t) => t('pages.api_keys'),
  path: '/api-keys',
  listKey: 'api_keys',
  id: (k) => k.id,
  columns: (t) => [
    { key: 'name', label: t('fields.name') },
    { key: 'prefix', label: t('fields.prefix') },
    { key: 'scopes', label: t('fields.scopes') },
    { key: 'expires_at', label: t('fields.expires_at') },
    { key: 'revoked_at', label: t('fields.revoked_at') },
  ],
  create: {
    fields: (t) => [
      { name: 'name', label: t('fields.name'), required: true },
      { name: 'scopes', label: t('fields.scopes'), type: 'lines', help: t('help.scopes', { scopes: SCOPES.join(', ') }) },
      { name: 'expires_at', label: t('fields.expires_at'), help: t('help.instant') },
    ],
    body: compact,
  },
  edit: {
    fields: (k, t) => [
      { name: 'name', label: t('fields.name'), value: k.name },
      { name: 'scopes', label: t('fields.scopes'), type: 'lines', value: k.scopes, help: t('help.scopes', { scopes: SCOPES.join(', ') }) },
    ],
    body: compact,
  },
});

/** Signing keys (OIDC and SAML) and their rotation. */
async function keysPage(root, { api, t }) {
  root.append(h('h2', {}, t('pages.keys')));
  const list = h('div');
  async function reload() {
    const { keys } = await api('/keys');
    const columns = ['kind', 'kid', 'alg', 'state', 'created_at', 'retires_at', 'not_after'].map((key) => ({ key, label: t(`fields.${key}`) }));
    list.replaceChildren(table({ caption: t('pages.keys'), columns, rows: keys, empty: t('common.none') }));
  }
  root.append(
    list,
    section(
      t('keys.rotate'),
      form({
        t,
        fields: [
          { name: 'kind', label: t('fields.kind'), type: 'select', options: ['oidc', 'saml'] },
          { name: 'overlap_days', label: t('fields.overlap_days'), type: 'number' },
        ],
        submitLabel: t('keys.rotate'),
        kind: 'danger',
        async submit(v) {
          const { key } = await api('/keys/rotate', { method: 'POST', body: compact(v) });
          await reload();
          return t('keys.rotated', { kid: key?.kid ?? '' });
        },
      }),
    ),
  );
  await reload();
}

/** The events a subscription can ask for, as the server's schema lists them (the page's data carries them). */
const WEBHOOK_EVENTS = JSON.parse(document.getElementById('admin-data').textContent).webhookEvents;
const webhookFields = (t, w = {}) => [
  { name: 'url', label: t('fields.url'), type: 'url', value: w.url, required: true },
  { name: 'events', label: t('fields.events'), type: 'lines', value: w.events, help: t('help.events', { events: WEBHOOK_EVENTS.join(', ') }) },
  { name: 'description', label: t('fields.description'), value: w.description },
  { name: 'enabled', label: t('fields.enabled'), type: 'checkbox', value: w.enabled ?? true },
];

const webhooksPage = resourcePage({
  page: 'webhooks',
  title: (t) => t('pages.webhooks'),
  path: '/webhooks',
  listKey: 'webhooks',
  id: (w) => w.id,
  columns: (t) => [
    { key: 'url', label: t('fields.url') },
    { key: 'events', label: t('fields.events') },
    { key: 'enabled', label: t('fields.enabled'), render: (w) => t(w.enabled ? 'common.yes' : 'common.no') },
  ],
  create: { fields: (t) => webhookFields(t), body: (v) => ({ ...compact(v), enabled: v.enabled }) },
  edit: { fields: (w, t) => webhookFields(t, w), body: (v) => ({ ...compact(v), enabled: v.enabled }) },
  async extra(w, root, { api, t }, status) {
    const secret = h('div');
    const deliveries = h('div');
    async function loadDeliveries() {
      const body = await api(`/webhooks/${w.id}/deliveries`);
      deliveries.replaceChildren(
        table({
          caption: t('webhooks.deliveries'),
          columns: ['event', 'status', 'attempts', 'last_status_code', 'last_attempt_at', 'created_at'].map((key) => ({ key, label: t(`fields.${key}`) })),
          rows: body.deliveries,
          empty: t('common.none'),
          actions: (d) => [
            button(
              t('webhooks.redeliver'),
              async () => (
                await api(`/webhooks/${w.id}/deliveries/${d.id}/redeliver`, { method: 'POST', body: {} }),
                status.done(t('webhooks.requeued')),
                loadDeliveries()
              ),
              {
                kind: 'secondary',
                status,
              },
            ),
          ],
        }),
      );
    }
    root.append(
      section(
        t('webhooks.secret'),
        button(
          t('webhooks.rotate_secret'),
          async () => secret.replaceChildren(shownOnce(t, await api(`/webhooks/${w.id}/rotate-secret`, { method: 'POST', body: {} }))),
          {
            kind: 'secondary',
            status,
          },
        ),
        secret,
      ),
      section(t('webhooks.deliveries'), deliveries),
    );
    await loadDeliveries();
  },
});

const breakGlassPage = resourcePage({
  page: 'break_glass',
  title: (t) => t('pages.break_glass'),
  path: '/break-glass',
  listKey: 'break_glass',
  id: (g) => g.id,
  remove: false,
  columns: (t) => [
    { key: 'user_id', label: t('fields.user_id') },
    { key: 'status', label: t('fields.status') },
    { key: 'reason', label: t('fields.reason') },
    { key: 'permissions', label: t('fields.permissions') },
    { key: 'requested_by', label: t('fields.requested_by') },
    { key: 'expires_at', label: t('fields.expires_at') },
  ],
  create: {
    fields: (t) => [
      { name: 'user_id', label: t('fields.user_id'), required: true },
      { name: 'reason', label: t('fields.reason'), type: 'textarea', required: true },
      { name: 'duration', label: t('fields.duration'), type: 'number', required: true, value: 3600 },
      { name: 'permissions', label: t('fields.permissions'), type: 'lines', help: t('help.lines') },
      { name: 'notify_admins', label: t('fields.notify_admins'), type: 'checkbox' },
    ],
    body: (v) => ({ ...compact(v), notify_admins: v.notify_admins }),
  },
  async extra(g, root, { api, t, refresh }, status) {
    const decide = (label, path, method = 'POST', kind = 'secondary') =>
      button(label, async () => (await api(`/break-glass/${g.id}${path}`, { method, body: {} }), status.done(t('common.saved')), refresh()), { kind, status });
    root.append(
      section(
        t('break_glass.decision'),
        h(
          'div',
          { class: 'actions' },
          g.status === 'pending_approval'
            ? [decide(t('break_glass.approve'), '/approve', 'POST', ''), decide(t('break_glass.deny'), '/deny', 'POST', 'danger')]
            : [],
          g.status === 'approved' ? decide(t('break_glass.revoke'), '', 'DELETE', 'danger') : [],
        ),
      ),
      section(
        t('break_glass.review'),
        form({
          t,
          fields: [
            {
              name: 'outcome',
              label: t('fields.review_outcome'),
              type: 'select',
              options: ['appropriate', 'inappropriate'].map((o) => [o, t(`break_glass.${o}`)]),
            },
            { name: 'notes', label: t('fields.notes'), type: 'textarea' },
          ],
          submitLabel: t('break_glass.submit_review'),
          async submit(v) {
            await api(`/break-glass/${g.id}/review`, { method: 'POST', body: compact(v) });
            return t('common.saved');
          },
        }),
      ),
    );
  },
});

export const pages = {
  dashboard: dashboardPage,
  users: usersPage,
  clients: clientsPage,
  saml: samlPage,
  organizations: organizationsPage,
  rules: rulesPage,
  api_keys: apiKeysPage,
  keys: keysPage,
  webhooks: webhooksPage,
  break_glass: breakGlassPage,
  audit: auditPage,
};
