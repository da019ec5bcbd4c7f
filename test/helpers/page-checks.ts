import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/** The widths every page is tried at: a desktop and a phone. */
export const WIDTHS = [
  { width: 1280, height: 800 },
  { width: 375, height: 740 },
] as const;

/**
 * What every page must pass, checked in the real browser: no horizontal scroll at the current width
 * and (unless `audit` is false) an automated accessibility audit (axe-core, WCAG 2.1 A/AA rules) with
 * no serious or critical violation. On failure the violations are listed by rule and element.
 */
export async function expectUsablePage(page: Page, { audit = true }: { audit?: boolean } = {}): Promise<void> {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect({ url: page.url(), horizontalOverflow: overflow }).toEqual({ url: page.url(), horizontalOverflow: 0 });
  if (!audit) return;
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect({ url: page.url(), violations: bad }).toEqual({ url: page.url(), violations: [] });
}

/** Whether `size` is the width a page's accessibility audit runs at: the phone's, where layouts are tightest (the audit's rules do not depend on the width). */
export const auditsAt = (size: (typeof WIDTHS)[number]): boolean => size === WIDTHS[WIDTHS.length - 1];

/** The page at every width: no horizontal scroll at each, the accessibility audit once; the desktop width again afterwards. */
export async function expectUsableAtAllWidths(page: Page): Promise<void> {
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    await expectUsablePage(page, { audit: auditsAt(size) });
  }
  await page.setViewportSize(WIDTHS[0]);
}
