import Router from '@koa/router';
import type { SamlIdpHolder } from '../../saml/identity-provider.js';

/** The SAML IdP's endpoints, under the issuer's path. */
export function samlRoutes(saml: SamlIdpHolder, prefix: string): Router {
  const router = new Router({ prefix: `${prefix}/saml` });
  // Service providers poll the metadata; it changes only with the key set, so revalidation answers 304.
  router.get('/metadata', (ctx) => {
    const { xml, etag } = saml.current.metadata;
    ctx.set('ETag', etag);
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = xml;
  });
  return router;
}
