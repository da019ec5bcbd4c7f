import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

/** Where Chromium is: CHROMIUM_PATH or the Debian package's launcher. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * @simplewebauthn/browser's browser bundle. Pages of a context get it as `SimpleWebAuthnBrowser`
 * through an init script, which a page's Content-Security-Policy does not govern: the IdP's pages
 * allow only their own scripts, and the test must not loosen that policy to drive a ceremony.
 */
const WEBAUTHN_BUNDLE = fs.readFileSync(
  path.join(path.dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
  'utf8',
);

declare global {
  /** What the bundle defines in a page, for code passed to `page.evaluate`. */
  var SimpleWebAuthnBrowser: typeof import('@simplewebauthn/browser');
}

/** WebAuthn.VirtualAuthenticatorOptions of the Chrome DevTools Protocol. */
export interface VirtualAuthenticatorOptions {
  protocol?: 'ctap2' | 'u2f';
  transport?: 'usb' | 'nfc' | 'ble' | 'cable' | 'internal';
  hasResidentKey?: boolean;
  hasUserVerification?: boolean;
  isUserVerified?: boolean;
  automaticPresenceSimulation?: boolean;
  /** Whether new credentials are backup eligible (synced passkeys) and backed up: WebAuthn Level 3 §6.1 flags BE/BS. */
  defaultBackupEligibility?: boolean;
  defaultBackupState?: boolean;
}

/** WebAuthn.Credential of the Chrome DevTools Protocol (binary fields are base64). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
  backupEligibility?: boolean;
  backupState?: boolean;
}

/** A platform authenticator with user verification, as a laptop's built-in one: device-bound, discoverable credentials. */
export const PLATFORM_AUTHENTICATOR: Required<
  Pick<VirtualAuthenticatorOptions, 'protocol' | 'transport' | 'hasResidentKey' | 'hasUserVerification' | 'isUserVerified' | 'automaticPresenceSimulation'>
> = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

/** One isolated browsing context (own cookies) with a page and a virtual authenticator attached to it. */
export interface AuthenticatorPage {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  /** The credentials the virtual authenticator holds, as the authenticator sees them (sign counts included). */
  credentials(): Promise<VirtualCredential[]>;
  close(): Promise<void>;
}

export interface Chromium {
  browser: Browser;
  /**
   * A fresh context (own cookies) and page with a virtual authenticator (`options` override the
   * platform defaults) and `SimpleWebAuthnBrowser` in every document it loads.
   */
  newPage(options?: VirtualAuthenticatorOptions): Promise<AuthenticatorPage>;
  /** Closes every page and the browser process; safe to call twice. */
  close(): Promise<void>;
}

/** Fails (never skips) without a browser: a missing dependency must turn the suite red. */
function assertChromium(): void {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
  } catch {
    throw new Error(`Chromium is not executable at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
}

/**
 * Launches headless Chromium with a throw-away profile (one per test file): no network of its own
 * beyond what a page asks for, no QUIC, no GPU, no sandbox (containers run as root).
 */
export async function launchChromium(): Promise<Chromium> {
  assertChromium();
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const open = new Set<AuthenticatorPage>();

  return {
    browser,
    async newPage(options = {}) {
      const context = await browser.newContext();
      try {
        await context.addInitScript({ content: WEBAUTHN_BUNDLE });
        // A step that hangs fails with Playwright's message before jest's test timeout hides it.
        context.setDefaultTimeout(10_000);
        const page = await context.newPage();
        const cdp = await context.newCDPSession(page);
        await cdp.send('WebAuthn.enable');
        const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { ...PLATFORM_AUTHENTICATOR, ...options } });
        const handle: AuthenticatorPage = {
          context,
          page,
          cdp,
          authenticatorId,
          credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
          async close() {
            open.delete(handle);
            await context.close();
          },
        };
        open.add(handle);
        return handle;
      } catch (err) {
        await context.close();
        throw err;
      }
    },
    async close() {
      await Promise.allSettled([...open].map((p) => p.close()));
      // browser.close() ends the whole process group, renderers included.
      await browser.close();
    },
  };
}
