import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { DEVICE_COOKIE } from '../../authn/trusted-device.service.js';
import type { SamlIdpHolder } from '../../saml/identity-provider.js';
import { allowPostForm, postFormPage } from '../../saml/post-form.js';
import type { SamlSso, SsoStep } from '../../saml/sso.js';
import { body, parseBodies, validate } from '../middleware/body.js';
import { noStore } from '../middleware/no-store.js';
import { SAML_POST_BODY_BYTES, octetString, referenceParam, samlThrottle } from './binding.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { exchange } from '../interaction/interaction-context.js';

export interface SamlRouteDeps {
  saml: SamlIdpHolder;
  sso: SamlSso;
  /** The issuer's path ('' at the root). */
  prefix: string;
  limiter: RateLimiter;
  messagesPerIpPerMinute: number;
}

const bindingFields = { SAMLRequest: z.string().optional(), RelayState: z.string().optional() };
const redirectQuery = z.object({ ...bindingFields, SigAlg: z.string().optional(), Signature: z.string().optional() });
const postBody = z.object(bindingFields);
const idpInitiatedQuery = z.object({ sp: z.string().min(1).max(1024), RelayState: z.string().max(1024).optional() });

/** The SAML IdP's endpoints, under the issuer's path. */
export function samlRoutes(deps: SamlRouteDeps): Router {
  const { sso } = deps;
  const router = new Router({ prefix: `${deps.prefix}/saml` });
  const throttle = samlThrottle(deps.limiter, deps.messagesPerIpPerMinute);
  const meta = (ctx: Context) => ({ ip: ctx.ip, requestId: ctx.state.requestId as string | undefined, deviceToken: ctx.cookies.get(DEVICE_COOKIE) });

  /** The binding's parameters; a request not of that shape is refused as malformed, and audited like any other refusal. */
  async function bindingParams<S extends z.ZodType>(ctx: Context, schema: S, input: unknown): Promise<z.infer<S>> {
    try {
      return validate(schema, input);
    } catch (err) {
      await sso.refusedShape(meta(ctx));
      throw err;
    }
  }

  /** A response goes out as the auto-posting form; a login starts at the interaction pages. */
  function answer(ctx: Context, step: SsoStep) {
    if (step.kind === 'login') {
      ctx.status = 303;
      ctx.redirect(`${deps.prefix}/interaction/${step.uid}`);
      return;
    }
    allowPostForm(ctx.res, step.form.acsUrl);
    ctx.type = 'html';
    ctx.body = postFormPage(step.form);
  }

  // Service providers poll the metadata; it changes only with the key set, so revalidation answers 304.
  router.get('/metadata', (ctx) => {
    const { xml, etag } = deps.saml.current.metadata;
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

  router.get('/sso', noStore(), throttle, async (ctx) => {
    const query = await bindingParams(ctx, redirectQuery, ctx.query);
    answer(ctx, await sso.authnRequest(exchange(ctx), { query, octetString: octetString(ctx.querystring) }, meta(ctx)));
  });

  router.post('/sso', noStore(), throttle, parseBodies(SAML_POST_BODY_BYTES), async (ctx) => {
    const posted = await bindingParams(ctx, postBody, body(ctx));
    ctx.status = 303;
    ctx.redirect(await sso.authnRequestPosted({ body: posted }, meta(ctx)));
  });

  router.get('/sso/continue/:token', noStore(), async (ctx) => {
    answer(ctx, await sso.continueAfterPost(exchange(ctx), validate(referenceParam, ctx.params.token), meta(ctx)));
  });

  router.get('/sso/post/:uid', noStore(), async (ctx) => {
    answer(ctx, { kind: 'respond', form: await sso.takeForm(exchange(ctx), validate(referenceParam, ctx.params.uid)) });
  });

  router.get('/idp-initiated', noStore(), throttle, async (ctx) => {
    const query = await bindingParams(ctx, idpInitiatedQuery, ctx.query);
    answer(ctx, await sso.idpInitiated(exchange(ctx), query.sp, query.RelayState, meta(ctx)));
  });

  return router;
}
