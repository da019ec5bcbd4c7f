import type { Configuration } from 'oidc-provider';
import type { Pages } from '../i18n/pages.js';

type ProviderContext = Parameters<NonNullable<Configuration['renderError']>>[0];

/** The provider's own pages (errors, RP-initiated logout) in our layout and the browser's language. */
export function providerPages(pages: Pages) {
  return {
    /** The provider's HTML error page (bad redirect_uri, unknown client, ...): never a redirect. */
    renderError: (async (ctx, out) => {
      await pages.render(ctx, 'error', { title: 'Sign-in request rejected', error: out.error, error_description: out.error_description ?? '' });
    }) satisfies NonNullable<Configuration['renderError']>,
    /** The "sign out?" confirmation of RP-initiated logout; `form` is the provider's own form (with its xsrf token). */
    renderLogout: async (ctx: ProviderContext, form: string): Promise<void> => {
      await pages.render(ctx, 'logout', { form });
    },
    renderLoggedOut: async (ctx: ProviderContext): Promise<void> => {
      await pages.render(ctx, 'error', { title: 'Signed out', error: 'signed_out', error_description: 'You are signed out. You can close this window.' });
    },
  };
}

export type ProviderPages = ReturnType<typeof providerPages>;
