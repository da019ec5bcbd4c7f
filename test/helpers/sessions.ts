import { Browser } from './browser.js';

/** Browsers as real ones identify themselves, so a session list can name them. */
export const USER_AGENTS = {
  chromeMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
} as const;

/** A browser with this User-Agent, behind a proxy that reports `forwardedFor` as the client address (when given). */
export function browserAs(userAgent: string, forwardedFor?: string): Browser {
  const browser = new Browser();
  browser.headers.set('user-agent', userAgent);
  if (forwardedFor) browser.headers.set('x-forwarded-for', forwardedFor);
  return browser;
}
