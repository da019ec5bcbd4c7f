import { allowImages } from '../lib/csp.js';
import type { ViewRenderer } from '../lib/views.js';
import { negotiateLocale, type Locale, type Messages, type Translate } from './i18n.js';

/** The settings' `branding` block, as the pages read it. */
export interface BrandingBlock {
  display_name: string | null;
  logo_url: string | null;
  primary_color: string | null;
  support_url: string | null;
  default_locale: string;
}

/** The part of a web framework's request context a page needs (koa's, for ours and the provider's routes). */
export interface PageExchange {
  acceptsLanguages(): string[];
  res: object;
  type: string;
  body: unknown;
  set(field: string, value: string): void;
}

/** The product's own name: the brand of a page no organisation has branded. */
export const PRODUCT_NAME = 'MFA IdP';

/** How a page presents its organisation. */
export interface Brand {
  name: string;
  logoUrl: string | null;
  primaryColor: string | null;
  supportUrl: string | null;
}

/** What every page is rendered with besides its own data. */
export interface PageContext {
  lang: Locale;
  t: Translate;
  brand: Brand;
  /** A whole catalogue namespace in this language, for a page script. */
  bundle(namespace: string): Record<string, unknown>;
}

export interface PageOptions {
  /** The organisation whose branding and default language apply (none: the global settings). */
  organizationId?: string | null | undefined;
  /** The relying party's `ui_locales`, ahead of the browser's languages. */
  uiLocales?: string | undefined;
}

export interface Pages {
  context(ctx: PageExchange, opts?: PageOptions): Promise<PageContext>;
  /** Renders `view` as this request's HTML answer, in its language, with its organisation's branding. */
  render(ctx: PageExchange, view: string, data?: Record<string, unknown>, opts?: PageOptions): Promise<void>;
}

export function createPages(deps: { views: ViewRenderer; messages: Messages; branding(organizationId: string | null): Promise<BrandingBlock> }): Pages {
  const pages: Pages = {
    async context(ctx, opts = {}) {
      const branding = await deps.branding(opts.organizationId ?? null);
      const lang = negotiateLocale({ uiLocales: opts.uiLocales, accepted: ctx.acceptsLanguages(), fallback: branding.default_locale });
      return {
        lang,
        t: deps.messages.translator(lang),
        bundle: (namespace: string) => deps.messages.bundle(lang, namespace),
        brand: {
          name: branding.display_name ?? PRODUCT_NAME,
          logoUrl: branding.logo_url,
          primaryColor: branding.primary_color,
          supportUrl: branding.support_url,
        },
      };
    },
    async render(ctx, view, data = {}, opts = {}) {
      const page = await pages.context(ctx, opts);
      allowImages(ctx.res, [page.brand.logoUrl]);
      ctx.type = 'html';
      ctx.set('Content-Language', page.lang);
      ctx.body = await deps.views.render(view, { ...data, ...page });
    },
  };
  return pages;
}
