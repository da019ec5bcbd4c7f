import Bowser from 'bowser';

/** Longer than any browser sends; the API refuses more. */
export const USER_AGENT_MAX = 1024;

// Headless browsers, browser-automation drivers and HTTP libraries: no person typed a password there.
const AUTOMATION =
  /\b(headlesschrome|headless|phantomjs|slimerjs|selenium|webdriver|puppeteer|playwright|python-requests|python-urllib|aiohttp|httpx|curl|wget|httpie|go-http-client|okhttp|java\/|libwww-perl|scrapy|node-fetch|axios|undici|postmanruntime)\b/i;

export interface UserAgentFacts {
  /** Browser and operating system, without versions (an update changes no family); null if unknown. */
  family: string | null;
  /** What is wrong with it, if anything. */
  anomaly: 'missing' | 'garbled' | 'automation' | 'unrecognised' | null;
  /** The automation marker found. */
  marker?: string;
}

export function describeUserAgent(ua: string | undefined): UserAgentFacts {
  const text = ua?.trim() ?? '';
  if (!text) return { family: null, anomaly: 'missing' };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (text.length > USER_AGENT_MAX || /[\u0000-\u001f\u007f\ufffd]/.test(text) || !/[a-z]{2}/i.test(text)) return { family: null, anomaly: 'garbled' };
  const parsed = Bowser.parse(text);
  const browser = parsed.browser.name;
  const os = parsed.os.name;
  const family = browser || os ? `${browser ?? '?'}/${os ?? '?'}` : null;
  const marker = AUTOMATION.exec(text)?.[1];
  if (marker) return { family, anomaly: 'automation', marker: marker.toLowerCase() };
  return { family, anomaly: browser && os ? null : 'unrecognised' };
}
