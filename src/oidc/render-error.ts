import type { Configuration } from 'oidc-provider';
import { viewsDir } from '../config.js';
import { createViewRenderer } from '../lib/views.js';

const views = createViewRenderer(viewsDir);

/** The provider's HTML error page (bad redirect_uri, unknown client, ...) in our layout, never a redirect. */
export const renderProviderError: NonNullable<Configuration['renderError']> = async (ctx, out) => {
  ctx.type = 'html';
  ctx.body = await views.render('error', { title: 'Sign-in request rejected', error: out.error, error_description: out.error_description ?? '' });
};

/** The "sign out?" confirmation of RP-initiated logout; `form` is the provider's own form (with its xsrf token). */
export const renderLogout = async (ctx: Parameters<NonNullable<Configuration['renderError']>>[0], form: string): Promise<void> => {
  ctx.type = 'html';
  ctx.body = await views.render('logout', { form });
};

export const renderLoggedOut = async (ctx: Parameters<NonNullable<Configuration['renderError']>>[0]): Promise<void> => {
  ctx.type = 'html';
  ctx.body = await views.render('error', { title: 'Signed out', error: 'signed_out', error_description: 'You are signed out. You can close this window.' });
};
