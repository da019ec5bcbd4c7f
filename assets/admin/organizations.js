// Organisations and their settings; the global settings for a global administrator.
import { form, h, section, show } from './admin-toolkit.js';

const GLOBAL = '~global';
const MFA_METHODS = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'email', 'prompt', 'security_questions'];
/** Settings whose values are one of a few: a select, the empty choice meaning "not set". */
const CHOICES = {
  'mfa.policy': ['disabled', 'any', 'otp', 'passkey'],
  'mfa.min_acr': ['', 'aal1', 'aal2', 'aal3'],
  'break_glass.min_acr': ['aal1', 'aal2', 'aal3'],
  'branding.default_locale': ['en', 'de'],
};
/** Lists of numbers (the lockout periods). */
const NUMBER_LISTS = new Set(['lockout.lock_minutes']);
/** Each block's fields in the order the form shows them (a block absent from the answer is skipped). */
const BLOCKS = ['mfa', 'lockout', 'networks', 'sessions', 'risk', 'branding', 'break_glass', 'otp', 'recovery', 'questions', 'step_webhooks', 'roles'];
const OPTIONAL = { mfa: ['min_acr'] };

/** A field for one setting, typed from its current value. */
function fieldOf(t, block, key, value) {
  const path = `${block}.${key}`;
  const label = t(`settings.fields.${key}`);
  if (CHOICES[path])
    return { name: key, label, type: 'select', value: value ?? '', options: CHOICES[path].map((c) => [c, c === '' ? t('common.not_set') : c]) };
  if (typeof value === 'boolean') return { name: key, label, type: 'checkbox', value };
  if (typeof value === 'number') return { name: key, label, type: 'number', value };
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object'))
    return {
      name: key,
      label,
      type: 'lines',
      value: value.map(String),
      numbers: NUMBER_LISTS.has(path),
      help: key === 'allowed_methods' ? t('help.methods', { methods: MFA_METHODS.join(', ') }) : t('help.lines'),
    };
  if (value !== null && typeof value === 'object') return { name: key, label, type: 'json', value, invalidJson: t('error.json') };
  return { name: key, label, value: value ?? '', emptyIsNull: true };
}

/** One form per settings block; each saves its block alone (PATCH merges it into the layer). */
function settingsEditor(root, { api, t }, path, settings) {
  for (const block of BLOCKS.filter((b) => b in settings)) {
    const value = settings[block];
    const keys = block === 'roles' ? [] : [...new Set([...Object.keys(value), ...(OPTIONAL[block] ?? [])])];
    const fields =
      block === 'roles'
        ? [{ name: 'roles', label: t('settings.fields.roles'), type: 'json', value, help: t('help.roles'), invalidJson: t('error.json') }]
        : keys.map((k) => fieldOf(t, block, k, value[k]));
    root.append(
      section(
        t(`settings.blocks.${block}`),
        form({
          t,
          fields,
          submitLabel: t('settings.save_block', { block: t(`settings.blocks.${block}`) }),
          async submit(values) {
            if (block === 'mfa' && values.min_acr === '') delete values.min_acr;
            await api(path, { method: 'PATCH', body: { [block]: block === 'roles' ? (values.roles ?? {}) : values } });
            return t('common.saved');
          },
        }),
      ),
    );
  }
}

export async function organizationsPage(root, ctx) {
  const { api, t, go, organization } = ctx;
  const slug = ctx.params[0] ?? organization?.slug;
  if (slug === GLOBAL) {
    root.append(h('p', {}, h('a', { href: '#/organizations' }, t('common.back'))), h('h2', {}, t('organizations.global_settings')));
    settingsEditor(root, ctx, '/settings', await api('/settings'));
    return;
  }
  if (slug) {
    const { organization: org } = await api(`/organizations/${encodeURIComponent(slug)}`);
    root.append(
      organization ? '' : h('p', {}, h('a', { href: '#/organizations' }, t('common.back'))),
      h('h2', {}, t('organizations.title', { name: org.name ?? org.slug })),
      h(
        'dl',
        { class: 'facts' },
        Object.entries(org)
          .filter(([, v]) => typeof v !== 'object' || v === null)
          .flatMap(([k, v]) => [h('dt', {}, t(`fields.${k}`)), h('dd', {}, show(v))]),
      ),
    );
    settingsEditor(root, ctx, `/organizations/${encodeURIComponent(slug)}/settings`, await api(`/organizations/${encodeURIComponent(slug)}/settings`));
    return;
  }
  root.append(
    h('h2', {}, t('pages.organizations')),
    h('p', {}, h('a', { href: `#/organizations/${GLOBAL}` }, t('organizations.global_settings'))),
    form({
      t,
      title: t('organizations.open'),
      fields: [{ name: 'slug', label: t('fields.organization_slug'), required: true }],
      submitLabel: t('common.open'),
      kind: 'secondary',
      async submit(v) {
        await api(`/organizations/${encodeURIComponent(v.slug ?? '')}`);
        go(`#/organizations/${encodeURIComponent(v.slug)}`);
      },
    }),
    form({
      t,
      title: t('organizations.create'),
      fields: [
        { name: 'slug', label: t('fields.organization_slug'), required: true, help: t('help.organization_slug') },
        { name: 'name', label: t('fields.name') },
      ],
      submitLabel: t('organizations.create'),
      async submit(v) {
        const { organization: org } = await api('/organizations', { method: 'POST', body: v });
        go(`#/organizations/${encodeURIComponent(org.slug)}`);
      },
    }),
  );
}
