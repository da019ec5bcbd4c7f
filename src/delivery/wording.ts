import { negotiateLocale, type Locale, type Messages, type Translate } from '../i18n/i18n.js';
import { PRODUCT_NAME } from '../i18n/pages.js';

/** The language a message is written in, the words it is written with and who it says it is from. */
export interface Wording {
  lang: Locale;
  t: Translate;
  /** The organisation's display name, else the product's: it names the sender in the text. */
  sender: string;
  /** The IdP's host name: the origin an SMS code is bound to (WebOTP), and where the footer says the message is from. */
  site: string;
}

/** Whom a message is for: their organisation and, when known, the language they read. */
export interface Addressee {
  organizationId?: string | undefined;
  /** The person's own language (`users.locale`), or the one the page they asked from was in; a BCP 47 tag. */
  locale?: string | null | undefined;
}

export interface WordingDeps {
  messages: Pick<Messages, 'translator'>;
  /** The effective `branding` settings of an organisation (the global ones without one). */
  branding(organizationId: string | undefined): Promise<{ display_name: string | null; default_locale: string }>;
  site: string;
}

/**
 * The wording of one message: the addressee's language when we write in it (`de-AT` is `de`),
 * else their organisation's `default_locale`, else English; and the organisation's name.
 */
export function createWording(deps: WordingDeps) {
  return async (to: Addressee): Promise<Wording> => {
    const branding = await deps.branding(to.organizationId);
    const lang = negotiateLocale({ uiLocales: to.locale ?? undefined, fallback: branding.default_locale });
    return { lang, t: deps.messages.translator(lang), sender: branding.display_name ?? PRODUCT_NAME, site: deps.site };
  };
}

export type WordingFor = ReturnType<typeof createWording>;
