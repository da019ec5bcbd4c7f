import type { Context } from 'koa';

/**
 * Two small signed cookies of the hosted pages. Both are signed with the application's cookie keys
 * (the provider's), so a browser can neither forge nor alter them, and both are httpOnly.
 *
 * - The flash: what a form's answer shows (its error, the name typed), carried across the
 *   POST → 303 → GET of Post/Redirect/Get so that a reload or Back repeats a GET, never the POST.
 *   It is bound to one interaction (its path and its content name the uid), lives for a minute and
 *   is read once.
 * - The last sign-in page this browser was shown: which interaction, for which app, and where that
 *   app lives, so that a page of an interaction that is gone can lead back to the app.
 */

const FLASH_COOKIE = 'idp_flash';
const FLASH_SECONDS = 60;
const LAST_COOKIE = 'idp_last_interaction';
const LAST_SECONDS = 24 * 3600;
/** Browsers keep cookies up to 4096 bytes (RFC 6265 §6.1); the signature cookie and attributes take their share. */
const MAX_VALUE_CHARS = 3000;

export interface Flash {
  view: string;
  data: Record<string, unknown>;
}

export interface LastInteraction {
  uid: string;
  clientId: string;
  /** The origin of the app's redirect target (OIDC redirect_uri, SAML ACS URL), when it is a web address. */
  appUrl?: string;
  uiLocales?: string;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function decode(raw: string | undefined): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function options(ctx: Context, path: string, seconds: number) {
  return { httpOnly: true, sameSite: 'lax' as const, secure: ctx.secure, path, maxAge: seconds * 1000, signed: true, overwrite: true };
}

/** Keeps `flash` for the next GET of interaction `uid`; data too large for a cookie is left out (the GET shows the step without it). */
export function setFlash(ctx: Context, uid: string, flash: Flash): void {
  let value = encode({ uid, exp: Date.now() + FLASH_SECONDS * 1000, ...flash });
  if (value.length > MAX_VALUE_CHARS) value = encode({ uid, exp: Date.now() + FLASH_SECONDS * 1000, view: flash.view, data: {} });
  ctx.cookies.set(FLASH_COOKIE, value, options(ctx, `/interaction/${uid}`, FLASH_SECONDS));
}

/** The flash kept for interaction `uid`, once: it is gone after this read. */
export function takeFlash(ctx: Context, uid: string): Flash | undefined {
  const raw = ctx.cookies.get(FLASH_COOKIE, { signed: true });
  if (raw === undefined) return undefined;
  ctx.cookies.set(FLASH_COOKIE, null, { path: `/interaction/${uid}`, signed: true, overwrite: true });
  const flash = decode(raw);
  if (!isRecord(flash) || flash.uid !== uid || typeof flash.exp !== 'number' || flash.exp < Date.now()) return undefined;
  if (typeof flash.view !== 'string' || !isRecord(flash.data)) return undefined;
  return { view: flash.view, data: flash.data };
}

export function rememberInteraction(ctx: Context, last: LastInteraction): void {
  ctx.cookies.set(LAST_COOKIE, encode(last), options(ctx, '/interaction', LAST_SECONDS));
}

export function lastInteraction(ctx: Context): LastInteraction | undefined {
  const last = decode(ctx.cookies.get(LAST_COOKIE, { signed: true }));
  if (!isRecord(last) || typeof last.uid !== 'string' || typeof last.clientId !== 'string') return undefined;
  return {
    uid: last.uid,
    clientId: last.clientId,
    ...(typeof last.appUrl === 'string' ? { appUrl: last.appUrl } : {}),
    ...(typeof last.uiLocales === 'string' ? { uiLocales: last.uiLocales } : {}),
  };
}

/** The origin of a web address an app is reached at; none for an app's private-use scheme. */
export function appOrigin(url: string | undefined): string | undefined {
  if (!url || !URL.canParse(url)) return undefined;
  const { protocol, origin } = new URL(url);
  return protocol === 'https:' || protocol === 'http:' ? origin : undefined;
}
