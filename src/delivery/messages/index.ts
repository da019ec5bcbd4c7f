import type { Catalogue } from './catalogue.js';
import { de } from './de.js';
import { en } from './en.js';

export type { Catalogue };

const CATALOGUES = { en, de } as const;
export type MessageLocale = keyof typeof CATALOGUES;

/** The language of a BCP 47 tag we have words for (`de-AT` → `de`), English otherwise. */
export function messageLocale(tag: string | undefined): MessageLocale {
  const primary = tag?.split(/[-_]/)[0]?.toLowerCase();
  return primary && Object.hasOwn(CATALOGUES, primary) ? (primary as MessageLocale) : 'en';
}

export const catalogueFor = (tag: string | undefined): Catalogue => CATALOGUES[messageLocale(tag)];
