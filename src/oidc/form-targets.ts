import type { KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import { allowFormTargets, isHtml } from '../lib/csp.js';

/**
 * The provider's own pages send the browser to relying parties: response_mode=form_post posts to
 * a redirect URI, and the logout confirmation ends in a redirect to a post-logout URI. Their forms
 * may lead to the origins the client registered, and nowhere else.
 */
export function allowClientFormTargets(provider: Provider): void {
  provider.use(async (ctx: KoaContextWithOIDC, next) => {
    await next();
    const client = ctx.oidc?.client;
    if (client && isHtml(ctx.response.get('Content-Type')))
      allowFormTargets(ctx.res, [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])]);
  });
}
