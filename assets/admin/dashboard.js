/* global URLSearchParams */
// The MFA adoption dashboard the admin console mounts: a range and interval form, then for each
// series of GET /api/v1/analytics/mfa a chart (Chart.js) and the same numbers in a table, so that
// nothing is only in the canvas. No inline script: the page's CSP is script-src 'self'.

const CHART_SRC = '/assets/chart.umd.js';
const DAY_MS = 86_400_000;
// Distinguishable in light and dark mode alike.
const PALETTE = ['#2f5bd3', '#d9480f', '#2b8a3e', '#ae3ec9', '#1098ad', '#e8590c', '#5c940d', '#c2255c', '#495057'];

let chartLoaded;
/** Chart.js's UMD build, loaded once per page as a script of this origin. */
function loadChart() {
  if (globalThis.Chart) return Promise.resolve(globalThis.Chart);
  chartLoaded ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = CHART_SRC;
    script.onload = () => resolve(globalThis.Chart);
    script.onerror = () => {
      chartLoaded = undefined;
      reject(new Error('Chart.js did not load'));
    };
    document.head.append(script);
  });
  return chartLoaded;
}

const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
};

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const sum = (values) => values.reduce((a, b) => a + b, 0);

/**
 * Renders the dashboard into `root`. `api(path)` answers the admin API's JSON for a path under
 * /api/v1 (it throws, or answers `{error, error_description}`, on failure); `t(key)` translates a
 * key of the `dashboard` namespace; `organization` (optional) is the organisation shown.
 */
export async function renderDashboard(root, { api, t, organization } = {}) {
  const lang = document.documentElement.lang || 'en';
  const number = new Intl.NumberFormat(lang);
  const percent = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
  const methodName = (m) => {
    const label = t(`method_${m}`);
    return label && label !== `method_${m}` && !label.endsWith(`:method_${m}`) ? label : m;
  };
  const charts = [];
  let serial = 0;
  const id = (name) => `dashboard-${name}-${++serial}`;

  const today = Date.now();
  const fromInput = el('input', { type: 'date', id: id('from'), name: 'from', value: isoDay(today - 29 * DAY_MS), required: true });
  const toInput = el('input', { type: 'date', id: id('to'), name: 'to', value: isoDay(today), required: true });
  const intervalSelect = el(
    'select',
    { id: id('interval'), name: 'interval' },
    ...['day', 'week', 'month'].map((v) => el('option', { value: v, text: t(`interval_${v}`) })),
  );
  const form = el(
    'form',
    { class: 'dashboard-range', 'aria-label': t('range') },
    el('div', {}, el('label', { for: fromInput.id, text: t('from') }), fromInput),
    el('div', {}, el('label', { for: toInput.id, text: t('to') }), toInput),
    el('div', {}, el('label', { for: intervalSelect.id, text: t('interval') }), intervalSelect),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'button', text: t('show') })),
  );
  form.style.display = 'flex';
  form.style.flexWrap = 'wrap';
  form.style.gap = '0 1rem';
  form.style.alignItems = 'end';
  const status = el('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const output = el('div', { class: 'dashboard-output' });
  root.replaceChildren(el('h1', { text: t('title') }), form, status, output);

  /** A table of per-bucket values, one column per series, with a total row. */
  function table(caption, buckets, columns) {
    const head = el('tr', {}, el('th', { scope: 'col', text: t('bucket') }), ...columns.map((c) => el('th', { scope: 'col', text: c.label })));
    const rows = buckets.map((b, i) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: b }),
        ...columns.map((c) => el('td', { 'data-series': c.key, 'data-bucket': b, text: c.format ? c.format(i) : number.format(c.values[i]) })),
      ),
    );
    const totals = columns.some((c) => !c.format)
      ? el(
          'tr',
          { class: 'total' },
          el('th', { scope: 'row', text: t('total') }),
          ...columns.map((c) => el('td', { 'data-series': c.key, 'data-bucket': 'total', text: c.format ? '' : number.format(sum(c.values)) })),
        )
      : undefined;
    const scroll = el(
      'div',
      { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': caption },
      el('table', {}, el('caption', { text: caption }), el('thead', {}, head), el('tbody', {}, ...rows, totals)),
    );
    return scroll;
  }

  /** A chart of the columns over the buckets; the canvas is labelled, and the table beside it has the numbers. */
  function chart(Chart, label, buckets, columns, type, options = {}) {
    const canvas = el('canvas', { role: 'img', 'aria-label': label });
    const box = el('div', { class: 'dashboard-chart' }, canvas);
    box.style.position = 'relative';
    box.style.height = '16rem';
    box.style.maxWidth = '100%';
    if (Chart) {
      charts.push(
        new Chart(canvas, {
          type,
          data: {
            labels: buckets,
            datasets: columns.map((c, i) => ({
              label: c.label,
              data: c.values,
              backgroundColor: PALETTE[i % PALETTE.length],
              borderColor: PALETTE[i % PALETTE.length],
              stack: c.stack,
            })),
          },
          options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
        }),
      );
    }
    return box;
  }

  function section(key, intro, ...content) {
    const heading = el('h2', { id: id(key), text: t(`section_${key}`) });
    return el(
      'section',
      { 'aria-labelledby': heading.id, 'data-section': key },
      heading,
      intro ? el('p', { class: 'muted', text: intro }) : undefined,
      ...content,
    );
  }

  /** Methods that have any count in `groups` (the others would add empty columns). */
  const active = (methods, groups, names) => methods.filter((m) => names.some((n) => sum(groups[m]?.[n] ?? []) > 0));

  function render(Chart, data) {
    const { buckets } = data;
    const parts = [];
    const cov = data.coverage;
    const share = (n, of) => (of > 0 ? percent.format(n / of) : '–');
    const range = cov.range;
    parts.push(
      section(
        'coverage',
        t('coverage_definition'),
        el(
          'dl',
          { class: 'dashboard-summary' },
          el('dt', { text: t('coverage_active_users') }),
          el('dd', { 'data-value': 'active_users', text: number.format(range.active_users) }),
          el('dt', { text: t('coverage_second_factor') }),
          el('dd', {
            'data-value': 'with_second_factor',
            text: `${number.format(range.with_second_factor)} (${share(range.with_second_factor, range.active_users)})`,
          }),
          el('dt', { text: t('coverage_phishing_resistant') }),
          el('dd', {
            'data-value': 'with_phishing_resistant',
            text: `${number.format(range.with_phishing_resistant)} (${share(range.with_phishing_resistant, range.active_users)})`,
          }),
        ),
        chart(
          Chart,
          t('coverage_chart'),
          buckets,
          [
            {
              label: t('coverage_second_factor'),
              values: buckets.map((_, i) => (cov.active_users[i] ? (100 * cov.with_second_factor[i]) / cov.active_users[i] : 0)),
            },
            {
              label: t('coverage_phishing_resistant'),
              values: buckets.map((_, i) => (cov.active_users[i] ? (100 * cov.with_phishing_resistant[i]) / cov.active_users[i] : 0)),
            },
          ],
          'line',
          { scales: { y: { min: 0, max: 100, title: { display: true, text: '%' } } } },
        ),
        table(t('coverage_chart'), buckets, [
          { key: 'coverage.active_users', label: t('coverage_active_users'), values: cov.active_users, format: (i) => number.format(cov.active_users[i]) },
          {
            key: 'coverage.with_second_factor',
            label: t('coverage_second_factor'),
            values: cov.with_second_factor,
            format: (i) => `${number.format(cov.with_second_factor[i])} (${share(cov.with_second_factor[i], cov.active_users[i])})`,
          },
          {
            key: 'coverage.with_phishing_resistant',
            label: t('coverage_phishing_resistant'),
            values: cov.with_phishing_resistant,
            format: (i) => `${number.format(cov.with_phishing_resistant[i])} (${share(cov.with_phishing_resistant[i], cov.active_users[i])})`,
          },
        ]),
        el(
          'div',
          { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': t('coverage_by_method') },
          el(
            'table',
            {},
            el('caption', { text: t('coverage_by_method') }),
            el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t('method') }), el('th', { scope: 'col', text: t('users') }))),
            el(
              'tbody',
              {},
              ...data.methods.map((m) =>
                el(
                  'tr',
                  {},
                  el('th', { scope: 'row', text: methodName(m) }),
                  el('td', {
                    'data-series': `coverage.by_method.${m}`,
                    text: `${number.format(range.by_method[m] ?? 0)} (${share(range.by_method[m] ?? 0, range.active_users)})`,
                  }),
                ),
              ),
            ),
          ),
        ),
      ),
    );

    const perMethod = (key, groups, names) => {
      const methods = active(data.methods, groups, names);
      if (!methods.length) return [el('p', { class: 'muted', text: t('no_events') })];
      const columns = methods.flatMap((m) =>
        names.map((n) => ({ key: `${key}.${m}.${n}`, label: `${methodName(m)}: ${t(n)}`, values: groups[m][n], stack: n })),
      );
      return [
        chart(Chart, t(`section_${key}`), buckets, columns, 'bar', {
          scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        }),
        table(t(`section_${key}`), buckets, columns),
      ];
    };
    parts.push(section('enrolments', t('enrolments_definition'), ...perMethod('enrolments', data.enrolments, ['enrolled', 'removed'])));
    parts.push(section('challenges', t('challenges_definition'), ...perMethod('challenges', data.challenges, ['succeeded', 'failed'])));

    const simple = (key, columns) => [
      chart(Chart, t(`section_${key}`), buckets, columns, 'bar', { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }),
      table(t(`section_${key}`), buckets, columns),
    ];
    parts.push(
      section('step_ups', t('step_ups_definition'), ...simple('step_ups', [{ key: 'step_ups', label: t('step_ups_completed'), values: data.step_ups }])),
    );
    parts.push(
      section(
        'lockouts',
        t('lockouts_definition'),
        ...simple('lockouts', [
          { key: 'lockouts.password', label: t('lockout_password'), values: data.lockouts.password },
          { key: 'lockouts.mfa', label: t('lockout_mfa'), values: data.lockouts.mfa },
        ]),
      ),
    );
    parts.push(
      section(
        'risk',
        t('risk_definition'),
        ...simple('risk', [
          ...['allow', 'challenge', 'deny'].map((d) => ({ key: `risk.sentinel.${d}`, label: t(`risk_sentinel_${d}`), values: data.risk.sentinel[d] })),
          ...['challenge', 'deny'].map((d) => ({ key: `risk.sign_in.${d}`, label: t(`risk_sign_in_${d}`), values: data.risk.sign_in[d] })),
        ]),
      ),
    );
    output.replaceChildren(...parts);
  }

  async function load() {
    const from = fromInput.value;
    const to = toInput.value;
    const params = new URLSearchParams({ from, to, interval: intervalSelect.value });
    if (organization) params.set('organization', organization);
    status.className = 'muted';
    status.setAttribute('role', 'status');
    status.textContent = t('loading');
    let data;
    try {
      data = await api(`/analytics/mfa?${params}`);
      if (!data || data.error) throw new Error(data?.error_description ?? t('error'));
    } catch (err) {
      status.className = 'error';
      status.setAttribute('role', 'alert');
      status.textContent = `${t('error')} ${err instanceof Error ? err.message : ''}`.trim();
      return;
    }
    // Without the chart library (blocked, offline) the tables still carry every number.
    const Chart = await loadChart().catch(() => undefined);
    for (const c of charts.splice(0)) c.destroy();
    render(Chart, data);
    status.textContent = `${t('shown')} ${data.from} – ${data.to}`;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });
  await load();
}
