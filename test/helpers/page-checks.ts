import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/**
 * What every page must pass, checked in the real browser: an automated accessibility audit (axe-core,
 * WCAG 2.1 A/AA rules) with no serious or critical violation, and no horizontal scroll at the
 * current width. On failure the violations are listed by rule and element.
 */
export async function expectUsablePage(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect({ url: page.url(), violations: bad }).toEqual({ url: page.url(), violations: [] });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect({ url: page.url(), horizontalOverflow: overflow }).toEqual({ url: page.url(), horizontalOverflow: 0 });
}

/** The widths every page is tried at: a desktop and a phone. */
export const WIDTHS = [
  { width: 1280, height: 800 },
  { width: 375, height: 740 },
] as const;
