import type { Configuration } from 'oidc-provider';
import type { Pages } from '../i18n/pages.js';

type ProviderContext = Parameters<NonNullable<Configuration['renderError']>>[0];

/** The provider's own pages (errors, RP-initiated logout) in our layout and the browser's language. */
export function providerPages(pages: Pages) {
  return {
    /** The provider's HTML error page (bad redirect_uri, unknown client, ...): never a redirect. */
    renderError: (async (ctx, out) => {
      await pages.render(ctx, 'error', { kind: 'request_rejected', error: out.error, error_description: out.error_description ?? '' });
    }) satisfies NonNullable<Configuration['renderError']>,
    /** The "sign out?" confirmation of RP-initiated logout; `form` is the provider's own form (with its xsrf token). */
    renderLogout: async (ctx: ProviderContext, form: string): Promise<void> => {
      await pages.render(ctx, 'logout', { form });
    },
    /**
     * Where RP-initiated logout ends when the app gave no post_logout_redirect_uri. "Stay signed in"
     * (the confirmation without `logout=yes`) ends this too, with the session kept: only the app
     * that asked is signed out, so the page must not say the person is.
     */
    renderLoggedOut: async (ctx: ProviderContext): Promise<void> => {
      const session = await ctx.oidc.provider.Session.get(ctx);
      const signedIn = Boolean(session.accountId);
      await pages.render(ctx, 'message', signedIn ? { message: 'still_signed_in' } : { message: 'signed_out', tone: 'success' });
    },
  };
}

export type ProviderPages = ReturnType<typeof providerPages>;
