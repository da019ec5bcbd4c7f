import type { Configuration } from 'oidc-provider';
import { createViewRenderer } from '../http/views.js';

const views = createViewRenderer();

/** The provider's HTML error page (bad redirect_uri, unknown client, ...) in our layout, never a redirect. */
export const renderProviderError: NonNullable<Configuration['renderError']> = async (ctx, out) => {
  ctx.type = 'html';
  ctx.body = await views.render('error', { title: 'Sign-in request rejected', error: out.error, error_description: out.error_description ?? '' });
};
