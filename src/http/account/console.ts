import type { Context, Middleware } from 'koa';
import type { Pages } from '../../i18n/pages.js';
import type { Translate } from '../../i18n/i18n.js';
import { IdpError } from '../../lib/errors.js';
import { HTTP_STATUS } from '../middleware/error-status.js';
import { principalOf, selfServiceAuth, type SelfServiceAuthDeps } from '../self-service/authenticate.js';
import { consolePath, toSignIn } from './sign-in.js';

/** The console's pages, in the order the navigation lists them; each is `/account/<name>` (the overview is `/account`). */
export const PAGES = ['overview', 'profile', 'security', 'devices', 'sessions', 'apps', 'activity'] as const;
export type PageName = (typeof PAGES)[number];
export const pathOf = (page: PageName) => (page === 'overview' ? '/account' : `/account/${page}`);

/** What a finished change says on the page it leads back to (`?done=`); anything else in the query is ignored. */
const DONE = new Set([
  'profile_saved',
  'password_changed',
  'totp_enrolled',
  'totp_removed',
  'passkey_added',
  'passkey_renamed',
  'passkey_removed',
  'destination_added',
  'destination_verified',
  'destination_removed',
  'code_sent',
  'questions_saved',
  'questions_removed',
  'contacts_saved',
  'device_revoked',
  'session_revoked',
  'sessions_revoked',
  'app_revoked',
  'stepped_up',
]);

/** Errors the console words itself; any other shows the API's own description. */
const WORDED = new Set([
  'invalid_request',
  'invalid_code',
  'invalid_credentials',
  'invalid_csrf_token',
  'method_not_allowed',
  'factor_required',
  'not_found',
  'conflict',
  'too_many_requests',
  'too_many_attempts',
  'resend_too_soon',
  'mfa_locked',
  'delivery_failed',
  'access_denied',
]);

/** The same error the API would answer, as a sentence in the page's language. */
function errorMessage(t: Translate, err: IdpError): string {
  const description = err.expose ? err.description : '';
  return WORDED.has(err.error) ? t(`account:errors.${err.error}`, { description }) : description || t('account:errors.other');
}

/** A change needs a recent second factor: through the step-up, then back to `page`. */
export function toStepUp(ctx: Context, page: string): void {
  ctx.status = 303;
  ctx.redirect(`/account/step-up?return=${encodeURIComponent(consolePath(page))}`);
}

/** A moment as the page's language writes it, in UTC (the server knows no time zone of the reader's). */
const when = (iso: string, lang: string) =>
  `${new Date(iso).toLocaleString(lang === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })} UTC`;

export interface ConsoleDeps {
  pages: Pages;
  auth: SelfServiceAuthDeps;
  /** The provider's end-session endpoint, which asks before signing the browser out. */
  signOut: string;
}

export type Loader = (ctx: Context) => Promise<Record<string, unknown>>;

/**
 * The console's frame: the self-service authentication (session cookie, CSRF token on every form
 * post, the same rules as the API), a sign-in for a browser without a session, and the rendering
 * of a page with its navigation, its notice and its error.
 */
export function createConsole(deps: ConsoleDeps) {
  const authenticate = selfServiceAuth(deps.auth);
  const loaders = new Map<PageName, Loader>();

  /** Not signed in (or the session ended): to the sign-in, and back to this page afterwards. */
  const guard: Middleware = async (ctx, next) => {
    let admitted = false;
    try {
      await authenticate(ctx, async () => {
        admitted = true;
        await next();
      });
    } catch (err) {
      if (admitted || !(err instanceof IdpError) || err.error !== 'login_required') throw err;
      ctx.status = 303;
      toSignIn(ctx);
    }
  };

  async function render(ctx: Context, view: string, page: PageName, data: Record<string, unknown> = {}) {
    const p = principalOf(ctx);
    const done = typeof ctx.query.done === 'string' && DONE.has(ctx.query.done) ? ctx.query.done : undefined;
    await deps.pages.render(
      ctx,
      `account/${view}`,
      {
        wide: true,
        when,
        signOut: deps.signOut,
        page,
        pages: PAGES.map((name) => ({ name, href: pathOf(name) })),
        csrf: p.csrfToken,
        user: p.user,
        done,
        ...data,
      },
      optionsOf(ctx),
    );
  }

  /** The page options of the signed-in user: their organisation's branding, their own language first. */
  const optionsOf = (ctx: Context) => {
    const { user } = principalOf(ctx);
    return { organizationId: user.organizationId, uiLocales: user.locale ?? undefined };
  };

  /** The API's refusal as a sentence in the user's language. */
  const errorFor = async (ctx: Context, err: IdpError) => errorMessage((await deps.pages.context(ctx, optionsOf(ctx))).t, err);

  /** A page of the navigation: its loader also renders it again when one of its forms fails. */
  async function show(ctx: Context, page: PageName, extra: Record<string, unknown> = {}) {
    await render(ctx, page, page, { ...(await loaders.get(page)!(ctx)), ...extra });
  }

  return {
    guard,
    render,
    show,
    errorFor,
    page(page: PageName, load: Loader): Middleware {
      loaders.set(page, load);
      return (ctx) => show(ctx, page);
    },

    /**
     * A form post of `page`: `run` makes the change through the self-service functions and names what
     * was done; the browser then goes back to the page (Post/Redirect/Get). A change that needs a
     * recent second factor leads through the step-up first; any other refusal is the page again with
     * the API's error, under the API's status.
     */
    act(page: PageName, run: (ctx: Context) => Promise<string | undefined | void>): Middleware {
      return async (ctx) => {
        try {
          const done = await run(ctx);
          // The change answered itself: a page with what is shown once, or where its next step is.
          if (ctx.body != null) return;
          ctx.status = 303;
          ctx.redirect(done ? `${pathOf(page)}?done=${done}` : pathOf(page));
        } catch (err) {
          if (!(err instanceof IdpError) || HTTP_STATUS[err.error] >= 500) throw err;
          if (err.error === 'step_up_required') return toStepUp(ctx, pathOf(page));
          ctx.status = HTTP_STATUS[err.error];
          await show(ctx, page, { error: await errorFor(ctx, err) });
        }
      };
    },
  };
}

export type Console = ReturnType<typeof createConsole>;
