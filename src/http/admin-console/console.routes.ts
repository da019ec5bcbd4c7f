import { WEBHOOK_EVENTS } from '../../webhooks/webhook.schema.js';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Pages } from '../../i18n/pages.js';
import { IdpError } from '../../lib/errors.js';
import { body } from '../middleware/body.js';
import type { AdminConsole } from './admin-console.js';

const LOGIN_COOKIE = 'idp_admin_login';

/** Inside `<script type="application/json">`: `<` escaped, so no value can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export interface AdminConsoleRouteDeps {
  console: AdminConsole;
  pages: Pages;
}

/**
 * `/admin`: the console's page (an HTML shell whose scripts call the admin API with the session),
 * its sign-in through the IdP (`/admin/login`, `/admin/callback`) and its sign-out.
 */
export function adminConsoleRoutes({ console: admin, pages }: AdminConsoleRouteDeps): Router {
  const router = new Router({ prefix: '/admin' });
  const loginCookie = { httpOnly: true, sameSite: 'lax' as const, secure: admin.secureCookies, path: '/admin', overwrite: true, signed: false };

  /** Refused: the page says why, no session is made. */
  async function refuse(ctx: Context, status: number, reason: 'aal' | 'role' | 'failed') {
    ctx.status = status;
    await pages.render(ctx, 'admin/refused', { reason });
  }

  router.get('/', async (ctx) => {
    if (ctx.path === '/admin') {
      ctx.redirect('/admin/');
      return;
    }
    const session = await admin.sessions.current(ctx);
    if (!session) {
      await pages.render(ctx, 'admin/signin');
      return;
    }
    const who = await admin.describe(session);
    const organizationId = session.organizationId;
    const page = await pages.context(ctx, { organizationId });
    await pages.render(
      ctx,
      'admin/console',
      {
        csrf: session.csrf,
        username: who.username,
        organization: who.organization,
        data: scriptJson({
          lang: page.lang,
          csrf: session.csrf,
          organization: who.organization,
          messages: { ...(page.t('admin:client', { returnObjects: true }) as Record<string, unknown>), analytics: page.bundle('dashboard') },
          webhookEvents: WEBHOOK_EVENTS,
        }),
      },
      { organizationId },
    );
  });

  router.get('/login', async (ctx) => {
    await admin.register();
    const { url, sealed } = await admin.login.start();
    ctx.cookies.set(LOGIN_COOKIE, sealed, loginCookie);
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const sealed = ctx.cookies.get(LOGIN_COOKIE);
    ctx.cookies.set(LOGIN_COOKIE, '', { ...loginCookie, maxAge: 0 });
    let signIn;
    try {
      signIn = await admin.login.finish(sealed, ctx.querystring);
    } catch (err) {
      ctx.state.log?.info({ err: { name: (err as Error).name, message: (err as Error).message } }, 'admin console sign-in failed');
      await refuse(ctx, 400, 'failed');
      return;
    }
    if (!admin.login.accepts(signIn.acr)) {
      await refuse(ctx, 403, 'aal');
      return;
    }
    const principal = await admin.principalOf(signIn.userId);
    if (!principal) {
      await refuse(ctx, 403, 'role');
      return;
    }
    await admin.sessions.create(ctx, principal, signIn.idToken);
    ctx.redirect('/admin/');
  });

  router.post('/logout', async (ctx) => {
    const session = await admin.sessions.current(ctx);
    if (!session) {
      ctx.redirect('/admin/');
      return;
    }
    if (!admin.sessions.verifyCsrf(session, (body(ctx) as { csrf?: unknown } | undefined)?.csrf))
      throw new IdpError('invalid_csrf_token', 'the form has expired or did not come from this site; reload the page');
    await admin.sessions.end(ctx, session);
    ctx.redirect((await admin.login.endSessionUrl(session.idToken)).href);
  });

  return router;
}
