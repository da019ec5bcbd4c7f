import { Browser } from './browser.js';
import { sql } from 'kysely';
import type { Container } from '../../src/container.js';
import { ADMIN_KEY } from './env.js';
import { PASSWORD } from './mfa-flow.js';
import { REDIRECT_URI, authorizationRequest, authorize, createUser, oc, silentError, type StepHandler } from './rp.js';

export const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const FIREFOX_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

/** A browser with a real User-Agent, behind a trusted proxy that forwards `ip` (the IdP must trust 127.0.0.1). */
export const browserAt = (ip: string, userAgent = CHROME_UA): Browser => browserAs(userAgent, ip);

/** PATCHes settings through the admin API: the global layer, or an organisation's (created first when missing). */
export async function patchSettings(baseUrl: string, org: string | undefined, patch: Record<string, unknown>): Promise<void> {
  const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  if (org) await fetch(`${baseUrl}/api/v1/organizations`, { method: 'POST', headers, body: JSON.stringify({ slug: org }) });
  const res = await fetch(`${baseUrl}/api/v1/${org ? `organizations/${org}/` : ''}settings`, { method: 'PATCH', headers, body: JSON.stringify(patch) });
  if (res.status !== 200) throw new Error(`settings PATCH failed: ${res.status} ${await res.text()}`);
}

/** Password step (with "keep me signed in" when asked) and consent; `answers` collects each step's JSON answer. */
export function rememberingSteps(username: string, remember: boolean | undefined, answers: any[] = [], password = PASSWORD): StepHandler {
  return async ({ step, interactionUrl, browser }) => {
    const body = step === 'login' ? { username, password, ...(remember === undefined ? {} : { remember_me: remember }) } : {};
    const res = await browser.json(`${interactionUrl.href}/${step}`, body);
    answers.push(res.body);
    if (res.status !== 200) throw new Error(`${step} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.redirect_to as string;
  };
}

/** A silent authorization request in this browser: 'code' while its SSO session is live, else the error. */
export const silent = async (config: oc.Configuration, browser: Browser): Promise<string> => (await silentError(config, browser)) ?? 'code';

/** Signs `username` in through the code flow; returns the browser, the tokens and the password step's answer. */
export async function signInOidc(
  config: oc.Configuration,
  username: string,
  opts: { browser?: Browser; remember?: boolean; scope?: string; params?: Record<string, string> } = {},
) {
  const answers: any[] = [];
  const result = await authorize(config, {
    browser: opts.browser ?? browserAt('198.51.100.7'),
    scope: opts.scope,
    params: opts.params,
    onStep: rememberingSteps(username, opts.remember, answers),
  });
  return { ...result, login: answers[0] };
}

/**
 * Signs `username` in up to the relying party's callback without redeeming the code (a session
 * ended meanwhile by another login's limit takes its grant, and so its code, with it).
 */
export async function signInUntilCallback(config: oc.Configuration, username: string, browser: Browser): Promise<void> {
  const request = await authorizationRequest(config, 'openid');
  const answers: any[] = [];
  const steps = rememberingSteps(username, undefined, answers);
  let url = request.url;
  for (let hop = 0; hop < 20 && !url.href.startsWith(REDIRECT_URI); hop++) {
    if (url.pathname.startsWith('/interaction/')) {
      const details = await browser.json(url);
      url = new URL(await steps({ uid: details.body.uid, step: details.body.step, body: details.body, interactionUrl: url, browser }), url);
      continue;
    }
    const res = await browser.fetch(url, { headers: { accept: 'application/json' } });
    url = new URL(res.headers.get('location')!, url);
  }
  if (!url.href.startsWith(REDIRECT_URI) || !url.searchParams.get('code')) throw new Error(`the sign-in did not reach the callback: ${url.href}`);
}

/** The account's session records the IdP counts as live now (its own clock). */
export async function liveRecords(container: Container, userId: string) {
  return container.sessionPolicy.liveOf(userId);
}

/** The audit events of a type about a subject, oldest first. */
export async function auditEvents(container: Container, type: string, subject: string): Promise<{ data: any }[]> {
  const { rows } = await sql<{ data: any }>`select data from audit_events where type = ${type} and subject = ${subject} order by id`.execute(container.db);
  return rows;
}

/** Browsers as real ones identify themselves, so a session list can name them. */
export const USER_AGENTS = {
  chromeMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
} as const;

/** A browser with this User-Agent, behind a proxy that reports `forwardedFor` as the client address (when given). */
export function browserAs(userAgent: string, forwardedFor?: string): Browser {
  const browser = new Browser();
  browser.headers['user-agent'] = userAgent;
  if (forwardedFor) browser.headers['x-forwarded-for'] = forwardedFor;
  return browser;
}

/** A maker of numbered users (`{prefix}-1`, `{prefix}-2`, …), each with its own password, so every test has an account of its own. */
export function userMaker(baseUrl: () => string, prefix: string, passwordSuffix: string) {
  let seq = 0;
  return async () => {
    seq += 1;
    const username = `${prefix}-${seq}`;
    const password = `${username} ${passwordSuffix}`;
    const user = await createUser(baseUrl(), { external_id: username, username, password });
    return { ...user, username, password };
  };
}
