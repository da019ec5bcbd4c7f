import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { viewsDir } from '../../config.js';
import { createViewRenderer } from '../../lib/views.js';
import { allowPostForm, samlPostPage } from '../../saml/post-form.js';
import type { SamlSlo, SloStep } from '../../saml/slo.js';
import { body, parseBodies, validate } from '../middleware/body.js';
import { noStore } from '../middleware/no-store.js';
import { exchange } from '../interaction/interaction-context.js';

export interface SamlSloRouteDeps {
  slo: SamlSlo;
  /** The issuer's path ('' at the root). */
  prefix: string;
}

/** A base64 logout message of the reader's cap, plus RelayState and the form's overhead. */
const POST_BODY_BYTES = 96 * 1024;
const token = z.string().regex(/^[\w-]{20,64}$/, 'not a logout reference');
const messageFields = { SAMLRequest: z.string().optional(), SAMLResponse: z.string().optional(), RelayState: z.string().optional() };
const redirectQuery = z.object({ ...messageFields, SigAlg: z.string().optional(), Signature: z.string().optional() });
const postBody = z.object(messageFields);

/**
 * The signed octets of an HTTP-Redirect message: the query exactly as received, without its
 * Signature (SAML 2.0 Bindings §3.4.4.1); re-encoding the parsed values would break signatures.
 */
const octetString = (querystring: string) =>
  querystring
    .split('&')
    .filter((part) => !part.startsWith('Signature='))
    .join('&');

/** SAML single logout: `/saml/slo` (both bindings) and `/saml/logout` (the user signs out at the IdP). */
export function samlSloRoutes(deps: SamlSloRouteDeps): Router {
  const { slo } = deps;
  const views = createViewRenderer(viewsDir);
  const router = new Router({ prefix: `${deps.prefix}/saml` });
  const meta = (ctx: Context) => ({ ip: ctx.ip, requestId: ctx.state.requestId as string | undefined });

  /** A message goes to the SP as a signed Redirect or as the auto-posting form; at the end of the chain, the signed-out page. */
  async function answer(ctx: Context, step: SloStep) {
    if (step.kind === 'done') {
      ctx.type = 'html';
      ctx.body = await views.render('error', { title: 'Signed out', error: 'signed_out', error_description: 'You are signed out. You can close this window.' });
      return;
    }
    const { message } = step;
    if (message.binding === 'redirect') {
      ctx.status = 303;
      ctx.redirect(message.url);
      return;
    }
    allowPostForm(ctx.res, message.action);
    ctx.type = 'html';
    ctx.body = samlPostPage({ ...message, title: 'Signing you out' });
  }

  router.get('/slo', noStore(), async (ctx) => {
    const query = validate(redirectQuery, ctx.query);
    await answer(ctx, await slo.redirected(exchange(ctx), { query, octetString: octetString(ctx.querystring) }, meta(ctx)));
  });

  router.post('/slo', noStore(), parseBodies(POST_BODY_BYTES), async (ctx) => {
    const posted = validate(postBody, body(ctx));
    ctx.status = 303;
    ctx.redirect(await slo.posted({ body: posted }, meta(ctx)));
  });

  router.get('/slo/continue/:token', noStore(), async (ctx) => {
    await answer(ctx, await slo.continueAfterPost(exchange(ctx), validate(token, ctx.params.token), meta(ctx)));
  });

  router.get('/logout', noStore(), async (ctx) => {
    await answer(ctx, await slo.logoutEverywhere(exchange(ctx), meta(ctx)));
  });

  return router;
}
