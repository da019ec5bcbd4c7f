/**
 * The MFA adoption dashboard in a real Chromium: the module (assets/admin/dashboard.js) runs in a
 * page of the IdP's origin under a script-src 'self' CSP, reads the real API with an
 * organisation's key, loads Chart.js from /assets/chart.umd.js, and shows in its tables exactly
 * the numbers the API answers for the seeded trail, for the range and interval chosen in its form;
 * the page passes the accessibility and overflow check at desktop and phone widths.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { sql } from 'kysely';
import { apiClient } from '../helpers/api.js';
import { launchChromium, type Chromium } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { expectUsablePage, WIDTHS } from '../helpers/page-checks.js';

let idp: TestIdp;
let chromium: Chromium;
let org = '';
let key = '';
const api = apiClient(() => idp.url);
const root = path.resolve(import.meta.dirname, '..', '..');
const MODULE = readFileSync(path.join(root, 'assets', 'admin', 'dashboard.js'), 'utf8');
const MESSAGES = readFileSync(path.join(root, 'locales', 'en', 'dashboard.json'), 'utf8');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

beforeAll(async () => {
  idp = await startTestIdp('analytics-dashboard');
  org = (await api('POST', '/organizations', { slug: 'dash' })).body.organization.id;
  key = (await idp.container.apiKeys.create('dashboard', ['idp:read'] as never, org)).key;
  const ids: string[] = [];
  for (const n of [1, 2]) ids.push((await api('POST', '/users', { user: { external_id: `dash-${n}`, organization: 'dash' } })).body.user.id);
  const record = (type: string, at: string, who: string, data: Record<string, unknown> = {}, outcome: 'success' | 'failure' = 'success') =>
    idp.container.audit.record({ type, outcome, at: new Date(at), subject: who, organizationId: org, data });
  await record('authn.factor.enrolled', '2026-03-02T09:00:00Z', ids[0]!, { method: 'totp' });
  await record('authn.factor.enrolled', '2026-03-04T09:00:00Z', ids[1]!, { method: 'passkey' });
  await record('authn.mfa.verified', '2026-03-02T09:05:00Z', ids[0]!, { method: 'totp' });
  await record('authn.mfa.verified', '2026-03-03T09:05:00Z', ids[0]!, { method: 'totp' });
  await record('authn.mfa.failed', '2026-03-03T09:04:00Z', ids[0]!, { method: 'totp' }, 'failure');
  await record('authn.login.succeeded', '2026-03-02T09:06:00Z', ids[0]!);
  await record('authn.login.succeeded', '2026-03-04T09:06:00Z', ids[1]!);
  await record('authn.step_up.completed', '2026-03-04T09:07:00Z', ids[1]!);
  await record('authn.account.locked', '2026-03-05T10:00:00Z', ids[1]!);
  await record('risk.sentinel.assessed', '2026-03-05T10:00:00Z', ids[1]!, { recommendation: 'challenge' });
  await sql`insert into credentials (user_id, kind, confirmed_at) values
    (${ids[0]}, 'totp', ${new Date('2026-03-02T09:00:00Z')}), (${ids[1]}, 'passkey', ${new Date('2026-03-04T09:00:00Z')})`.execute(idp.container.db);
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await idp?.stop();
});

/** A page of the IdP's origin that mounts the module as the admin console does, with this test's key and the English catalogue. */
async function openDashboard(): Promise<Page> {
  const { page } = await chromium.newPage();
  const base = idp.url;
  await page.route(`${base}/test/dashboard`, (route) =>
    route.fulfill({
      contentType: 'text/html; charset=utf-8',
      headers: { 'content-security-policy': CSP },
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>MFA adoption – test</title><link rel="stylesheet" href="/assets/idp.css"></head>
        <body><main class="card wide" id="dashboard"></main><script type="module" src="/test/harness.js"></script></body></html>`,
    }),
  );
  await page.route(`${base}/test/harness.js`, (route) =>
    route.fulfill({
      contentType: 'text/javascript; charset=utf-8',
      body: `import { renderDashboard } from '/assets/admin/dashboard.js';
        window.violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective));
        const messages = ${MESSAGES};
        const api = async (p) => (await fetch('/api/v1' + p, { headers: { authorization: 'Bearer ${key}', accept: 'application/json' } })).json();
        await renderDashboard(document.getElementById('dashboard'), { api, t: (k) => messages[k] ?? k, organization: '${org}' });
        document.body.dataset.ready = 'true';`,
    }),
  );
  // Served from the file as the admin console serves assets/admin/.
  await page.route(`${base}/assets/admin/dashboard.js`, (route) => route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: MODULE }));
  await page.goto(`${base}/test/dashboard`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Chooses a range and interval in the dashboard's own form and waits for the answer to be drawn. */
async function show(page: Page, from: string, to: string, interval: string): Promise<void> {
  await page.getByLabel('From', { exact: true }).fill(from);
  await page.getByLabel('To', { exact: true }).fill(to);
  await page.getByLabel('Interval', { exact: true }).selectOption(interval);
  await page.getByRole('button', { name: 'Show' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: `Showing ${from} – ${to}` })
    .waitFor();
}

const cell = (page: Page, series: string, bucket: string) => page.locator(`td[data-series="${series}"][data-bucket="${bucket}"]`).textContent();

test('the tables show the seeded numbers per day, equal to the API, with the charts drawn under the CSP', async () => {
  const page = await openDashboard();
  await show(page, '2026-03-01', '2026-03-07', 'day');

  expect(await cell(page, 'enrolments.totp.enrolled', '2026-03-02')).toBe('1');
  expect(await cell(page, 'enrolments.passkey.enrolled', '2026-03-04')).toBe('1');
  expect(await cell(page, 'challenges.totp.succeeded', '2026-03-03')).toBe('1');
  expect(await cell(page, 'challenges.totp.failed', '2026-03-03')).toBe('1');
  expect(await cell(page, 'challenges.totp.succeeded', 'total')).toBe('2');
  expect(await cell(page, 'step_ups', '2026-03-04')).toBe('1');
  expect(await cell(page, 'lockouts.password', '2026-03-05')).toBe('1');
  expect(await cell(page, 'risk.sentinel.challenge', '2026-03-05')).toBe('1');
  expect(await cell(page, 'coverage.with_phishing_resistant', '2026-03-04')).toBe('1 (100%)');
  expect(await page.locator('dd[data-value="active_users"]').textContent()).toBe('2');
  expect(await page.locator('dd[data-value="with_second_factor"]').textContent()).toBe('2 (100%)');
  expect(await page.locator('dd[data-value="with_phishing_resistant"]').textContent()).toBe('1 (50%)');

  // Every count cell equals the API's answer for the same range (methods without events have no columns).
  const answer = (await api('GET', `/analytics/mfa?from=2026-03-01&to=2026-03-07&interval=day`, undefined, key)).body;
  const cells = await page
    .locator('td[data-series][data-bucket]')
    .evaluateAll((tds) =>
      tds.map((td) => ({ series: td.getAttribute('data-series') ?? '', bucket: td.getAttribute('data-bucket') ?? '', text: td.textContent ?? '' })),
    );
  expect(cells.length).toBeGreaterThan(50);
  for (const c of cells) {
    const values = c.series.split('.').reduce((v: any, k) => v[k], answer) as number[];
    const expected = c.bucket === 'total' ? values.reduce((a, b) => a + b, 0) : values[answer.buckets.indexOf(c.bucket)]!;
    expect({ ...c, number: Number(c.text.split(' ')[0]) }).toEqual({ ...c, number: expected });
  }

  const drawn = await page.evaluate(() => ({
    chart: typeof (globalThis as { Chart?: unknown }).Chart,
    canvases: [...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0).length,
    violations: (window as unknown as { violations: string[] }).violations,
  }));
  expect(drawn).toEqual({ chart: 'function', canvases: 6, violations: [] });
  await page.context().close();
});

test('by week: the selector asks the API again and the buckets follow', async () => {
  const page = await openDashboard();
  await show(page, '2026-03-01', '2026-03-10', 'week');
  const buckets = await page.locator('section[data-section="step_ups"] tbody th[scope="row"]').allTextContents();
  expect(buckets).toEqual(['2026-02-23', '2026-03-02', '2026-03-09', 'Total']);
  expect(await cell(page, 'challenges.totp.succeeded', '2026-03-02')).toBe('2');
  expect(await cell(page, 'coverage.active_users', '2026-03-02')).toBe('2');
  await page.context().close();
});

test('a bad range is shown as an error, not as empty charts', async () => {
  const page = await openDashboard();
  await page.getByLabel('From', { exact: true }).fill('2026-03-10');
  await page.getByLabel('To', { exact: true }).fill('2026-03-01');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('alert').filter({ hasText: 'to: must not be before from' }).waitFor();
  await page.context().close();
});

test.each(WIDTHS)('usable at %o', async (size) => {
  const page = await openDashboard();
  await page.setViewportSize(size);
  await show(page, '2026-03-01', '2026-03-07', 'day');
  await expectUsablePage(page);
  await page.context().close();
});
