import fs from 'node:fs';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';

/** The languages every page, e-mail and SMS is written in; the first is the fallback. */
export const LOCALES = ['en', 'de'] as const;
export type Locale = (typeof LOCALES)[number];

export const isLocale = (v: unknown): v is Locale => typeof v === 'string' && (LOCALES as readonly string[]).includes(v);

/** A translation function bound to one language: `t('login:title', { app })`. */
export type Translate = TFunction;

export interface Messages {
  readonly locales: readonly Locale[];
  /** Every text of `lang`, falling back key by key to English. */
  translator(lang: Locale): Translate;
  /** A whole namespace of `lang` (English where a top-level key is missing), for a page script that translates in the browser. */
  bundle(lang: Locale, namespace: string): Record<string, unknown>;
}

/**
 * The message catalogues: `<dir>/<locale>/<namespace>.json`, one namespace per area (common, login,
 * mfa, account, admin, email, ...), read once at start-up. Keys are looked up as `namespace:key`;
 * values interpolate `{{name}}` (escaped by the page templates, not here) and pluralise with
 * `_one` / `_other` suffixes on `count`.
 */
export function loadMessages(dir: string): Messages {
  const resources: Record<string, Record<string, unknown>> = {};
  for (const lang of LOCALES) {
    const langDir = path.join(dir, lang);
    resources[lang] = {};
    for (const file of fs.readdirSync(langDir).filter((f) => f.endsWith('.json'))) {
      resources[lang][path.basename(file, '.json')] = JSON.parse(fs.readFileSync(path.join(langDir, file), 'utf8')) as unknown;
    }
  }
  const instance = i18next.createInstance();
  void instance.init({
    resources: resources as never,
    lng: LOCALES[0],
    fallbackLng: LOCALES[0],
    supportedLngs: [...LOCALES],
    ns: Object.keys(resources[LOCALES[0]]!),
    defaultNS: 'common',
    // Templates escape what they print; escaping here too would show &amp; on the page.
    interpolation: { escapeValue: false },
    initAsync: false,
    returnNull: false,
  });
  const bound = new Map(LOCALES.map((lang) => [lang, instance.getFixedT(lang)]));
  return {
    locales: LOCALES,
    translator: (lang) => bound.get(lang)!,
    bundle: (lang, namespace) =>
      ({ ...instance.getResourceBundle(LOCALES[0], namespace), ...instance.getResourceBundle(lang, namespace) }) as Record<string, unknown>,
  };
}

/**
 * The page's language (OpenID Connect Core §3.1.2.1 `ui_locales`): the first of the relying party's
 * `ui_locales` we speak, else the first of the browser's Accept-Language we speak, else the
 * organisation's default. A tag's region is ignored (`de-CH` is `de`).
 */
export function negotiateLocale(opts: { uiLocales?: string | undefined; accepted?: readonly string[]; fallback?: string | undefined }): Locale {
  const base = (tag: string) => tag.trim().toLowerCase().split('-')[0];
  for (const tag of (opts.uiLocales ?? '').split(/\s+/)) {
    const lang = base(tag);
    if (isLocale(lang)) return lang;
  }
  for (const tag of opts.accepted ?? []) {
    if (tag === '*') break;
    const lang = base(tag);
    if (isLocale(lang)) return lang;
  }
  return isLocale(opts.fallback) ? opts.fallback : LOCALES[0];
}
