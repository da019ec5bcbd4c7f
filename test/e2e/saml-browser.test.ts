/**
 * SAML SSO in a real browser: headless Chromium follows a node-saml SP's AuthnRequest to the IdP,
 * signs in on the IdP's own login page, and the auto-posting form delivers the response to the SP's
 * ACS under the page's Content-Security-Policy (its one script allowed by hash, its form-action
 * allowing the ACS). A second SP-initiated request goes straight through on the session; without
 * JavaScript the form's button does the same.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { launchChromium, type Chromium } from '../helpers/chromium.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { PASSWORD, newUser } from '../helpers/mfa-flow.js';
import { registerSamlSp, type SamlSp } from '../helpers/saml-flow.js';

let idp: TestIdp;
let chrome: Chromium;
let acs: http.Server;
let sp: SamlSp;

/** The SP's ACS: node-saml validates the posted response and greets the user by NameID. */
function startAcs(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      sp.sp
        .validatePostResponseAsync(form)
        .then(({ profile }) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(`<h1>Welcome ${profile?.nameID} (${form.RelayState})</h1>`);
        })
        .catch((err: Error) => {
          res.writeHead(403, { 'content-type': 'text/plain' });
          res.end(`rejected: ${err.message}`);
        });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  idp = await startTestIdp('saml-browser', 'postgres+redis');
  acs = await startAcs();
  const origin = `http://127.0.0.1:${(acs.address() as AddressInfo).port}`;
  sp = await registerSamlSp(idp.url, origin);
  chrome = await launchChromium();
}, 30_000);
afterAll(async () => {
  await chrome?.browser.close();
  acs?.close();
  await idp?.stop();
});

/** Every Content-Security-Policy violation the page reports. */
function cspViolations(context: BrowserContext): string[] {
  const seen: string[] = [];
  context.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

test('SP-initiated SSO through the IdP’s login page, then again on the session alone', async () => {
  const user = await newUser(idp.url, 'saml-chromium');
  const context = await chrome.browser.newContext();
  const violations = cspViolations(context);
  const page = await context.newPage();
  await page.goto(await sp.sp.getAuthorizeUrlAsync('first', undefined, {}));
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
  await page.fill('#username', user.username);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${sp.entityId}/acs`), page.click('button:has-text("Sign in")')]);
  await expect(page.locator('h1').textContent()).resolves.toMatch(/^Welcome \S+ \(first\)$/);

  await page.goto(await sp.sp.getAuthorizeUrlAsync('second', undefined, {}));
  await page.waitForURL(`${sp.entityId}/acs`);
  await expect(page.locator('h1').textContent()).resolves.toMatch(/\(second\)$/);
  expect(violations).toEqual([]);
  await context.close();
}, 30_000);

test('without JavaScript the form’s Continue button posts the response', async () => {
  const user = await newUser(idp.url, 'saml-nojs');
  const context = await chrome.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(await sp.sp.getAuthorizeUrlAsync('nojs', undefined, {}));
  await page.fill('#username', user.username);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/saml\/sso\/post\//), page.click('button:has-text("Sign in")')]);
  await Promise.all([page.waitForURL(`${sp.entityId}/acs`), page.click('button:has-text("Continue")')]);
  await expect(page.locator('h1').textContent()).resolves.toMatch(/\(nojs\)$/);
  await context.close();
}, 30_000);
