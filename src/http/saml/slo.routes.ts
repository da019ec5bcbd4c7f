import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Pages } from '../../i18n/pages.js';
import { allowPostForm, samlPostPage } from '../../saml/post-form.js';
import type { SsoSessions } from '../../authn/sso-session.js';
import type { SamlSlo, SloStep } from '../../saml/slo.js';
import type { Csrf } from '../middleware/csrf.js';
import { escapeMarkup } from '../../lib/text.js';
import { body, parseBodies, validate } from '../middleware/body.js';
import { noStore } from '../middleware/no-store.js';
import { SAML_POST_BODY_BYTES, octetString, referenceParam, samlThrottle } from './binding.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import { exchange } from '../interaction/interaction-context.js';

export interface SamlSloRouteDeps {
  pages: Pages;
  slo: SamlSlo;
  sessions: Pick<SsoSessions, 'current'>;
  csrf: Csrf;
  /** The issuer's path ('' at the root). */
  prefix: string;
  limiter: RateLimiter;
  messagesPerIpPerMinute: number;
}

const messageFields = { SAMLRequest: z.string().optional(), SAMLResponse: z.string().optional(), RelayState: z.string().optional() };
const redirectQuery = z.object({ ...messageFields, SigAlg: z.string().optional(), Signature: z.string().optional() });
const postBody = z.object(messageFields);
const logoutBody = z.object({ csrf: z.string().max(128).optional(), logout: z.literal('yes').optional() });

/** SAML single logout: `/saml/slo` (both bindings) and `/saml/logout` (the user signs out at the IdP). */
export function samlSloRoutes(deps: SamlSloRouteDeps): Router {
  const { slo } = deps;
  const router = new Router({ prefix: `${deps.prefix}/saml` });
  const throttle = samlThrottle(deps.limiter, deps.messagesPerIpPerMinute);
  const meta = (ctx: Context) => ({ ip: ctx.ip, requestId: ctx.state.requestId as string | undefined });

  const logoutBinding = (sessionUid: string) => `saml-logout:${sessionUid}`;
  /** A page that tells how things stand: `message` names its texts in the login catalogue. */
  async function page(ctx: Context, message: 'signed_out' | 'not_signed_in' | 'still_signed_in') {
    await deps.pages.render(ctx, 'message', { message, ...(message === 'signed_out' ? { tone: 'success' } : {}) });
  }

  /** A message goes to the SP as a signed Redirect or as the auto-posting form; at the end of the chain, the signed-out page. */
  async function answer(ctx: Context, step: SloStep) {
    if (step.kind === 'done') return page(ctx, 'signed_out');
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

  router.get('/slo', noStore(), throttle, async (ctx) => {
    const query = validate(redirectQuery, ctx.query);
    await answer(ctx, await slo.redirected(exchange(ctx), { query, octetString: octetString(ctx.querystring) }, meta(ctx)));
  });

  router.post('/slo', noStore(), throttle, parseBodies(SAML_POST_BODY_BYTES), async (ctx) => {
    const posted = validate(postBody, body(ctx));
    ctx.status = 303;
    ctx.redirect(await slo.posted({ body: posted }, meta(ctx)));
  });

  router.get('/slo/continue/:token', noStore(), async (ctx) => {
    await answer(ctx, await slo.continueAfterPost(exchange(ctx), validate(referenceParam, ctx.params.token), meta(ctx)));
  });

  /**
   * Signing out everywhere is asked, then confirmed with a form bound to the session (a CSRF token),
   * so that a link or image on another site cannot sign the user out.
   */
  router.get('/logout', noStore(), async (ctx) => {
    const session = await deps.sessions.current(exchange(ctx));
    if (!session) return page(ctx, 'not_signed_in');
    const form = `<form id="op.logoutForm" method="post" action="${escapeMarkup(`${deps.prefix}/saml/logout`)}"><input type="hidden" name="csrf" value="${deps.csrf.token(logoutBinding(session.uid))}"></form>`;
    await deps.pages.render(ctx, 'logout', { form });
  });

  router.post('/logout', noStore(), parseBodies(4096), async (ctx) => {
    const session = await deps.sessions.current(exchange(ctx));
    if (!session) return page(ctx, 'not_signed_in');
    deps.csrf.verify(ctx, logoutBinding(session.uid));
    if (validate(logoutBody, body(ctx)).logout !== 'yes') return page(ctx, 'still_signed_in');
    await answer(ctx, await slo.logoutEverywhere(exchange(ctx), meta(ctx)));
  });

  return router;
}
