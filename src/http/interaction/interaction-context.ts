import type { Context } from 'koa';
import type { HttpExchange, LoginProtocol, LoginRequest } from '../../authn/login-request.js';
import type { MfaService, Outcome, RequestMeta } from '../../authn/mfa.service.js';
import { DEVICE_COOKIE } from '../../authn/trusted-device.service.js';
import { allowFormTargets, allowImages } from '../../lib/csp.js';
import { IdpError, badRequest } from '../../lib/errors.js';
import { requestScope } from '../../lib/request-scope.js';
import type { MfaMethod } from '../../policy/types.js';
import { OTP_CHALLENGE_PATH, type SentState } from '../../authn/one-time-codes/otp-factor.js';
import { validate } from '../middleware/body.js';
import type { Csrf } from '../middleware/csrf.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { Pages } from '../../i18n/pages.js';
import { appOrigin, lastInteraction, rememberInteraction, setFlash, takeFlash } from './interaction-cookies.js';
import { uidParam } from './interaction.schema.js';
import { respondStep } from './respond.js';

/**
 * What the interaction routes share: finding the login this browser is in (whichever protocol
 * started it), rendering its pages, and turning a step's outcome into the answer, handing a
 * finished login to the protocol that asked for it.
 */
export interface InteractionKit {
  load(ctx: Context): Promise<LoginRequest>;
  /**
   * For a browser's GET of a step page: this browser's login, or undefined once the answer is given
   * (the page of an interaction that is unknown or over, or a redirect to the one this browser is in now).
   */
  loadPage(ctx: Context): Promise<LoginRequest | undefined>;
  loadForPost(ctx: Context, prompt?: string): Promise<LoginRequest>;
  meta(ctx: Context): RequestMeta;
  protocolOf(request: LoginRequest): LoginProtocol;
  /**
   * Shows `view`. A browser's form post is answered with a 303 to the step page, which shows it
   * (Post/Redirect/Get: reload and Back repeat the GET); JSON clients never get pages.
   */
  render(ctx: Context, request: LoginRequest, view: string, extra?: Record<string, unknown>): Promise<void>;
  /** For the GET of a step page at `step`: shows what the post before it left to show for that step, if anything; true when it did. */
  renderFlash(ctx: Context, request: LoginRequest, step: string): Promise<boolean>;
  /** The enrolment page of `method`, showing this login's pending credential, with links to the other `offered` methods. */
  renderEnrolment(ctx: Context, request: LoginRequest, method: MfaMethod, offered: readonly MfaMethod[], extra?: Record<string, unknown>): Promise<void>;
  respondOutcome(ctx: Context, request: LoginRequest, outcome: Outcome): Promise<void>;
}

export const exchange = (ctx: Context): HttpExchange => ({ req: ctx.req, res: ctx.res });

/**
 * What of a page's data a flash carries to the GET: messages, the name typed, which methods and
 * which started challenge (its mask) to show. Never a secret: an enrolment's key is shown again from
 * the login's transaction.
 */
const FLASH_KEYS = new Set(['error', 'errorKey', 'field', 'failed', 'locked', 'username', 'reauth', 'methods', 'method', 'started']);

/** The step each page belongs to: a flash left for another step than the login is at now is not shown. */
const stepOfPage = (view: string, data: Record<string, unknown>): string | undefined =>
  view === 'login' && data.reauth
    ? 'reauth'
    : (
        {
          login: 'login',
          consent: 'consent',
          mfa: 'mfa',
          'mfa-step': 'mfa',
          enroll: 'enroll',
          'trust-device': 'trust_device',
          'password-change': 'password_change',
        } as Record<string, string>
      )[view];

export function createInteractionKit(deps: {
  protocols: readonly LoginProtocol[];
  csrf: Csrf;
  pages: Pages;
  /** The relying party's name, logo and organisation (whose branding and language the pages take). */
  relyingParty(
    clientId: string,
  ): Promise<{ organizationId: string | null; name?: string | undefined; logoUri?: string | undefined; homeUri?: string | undefined } | undefined>;
  mfa: MfaService;
  issuer: string;
  /** Whether the sign-in page offers "Keep me signed in" for this relying party (its organisation's `allow_remember_me`). */
  offersRememberMe?: (clientId: string) => Promise<boolean>;
  /** Before a finished login's session is saved: ends the account's oldest sessions beyond its limit; returns how many. */
  makeRoom?: (login: Extract<Outcome, { kind: 'finish' }>['login'], keepSessionUid: string | undefined) => Promise<number>;
  /** The account's verified destinations for the offered methods that send a code (SMS, voice, e-mail). */
  destinations?: {
    /** The methods that send a code: a challenge offering none of them reads nothing more. */
    methods: readonly MfaMethod[];
    offered(accountId: string, methods: readonly MfaMethod[]): Promise<{ id: string; channel: MfaMethod; mask: string }[]>;
  };
  /** Whether the login's second factor is run through its organisation's app (`step_webhooks`): the browser then waits on "Continue in your app". */
  runsInApp?: (uid: string) => Promise<boolean>;
}): InteractionKit {
  const { csrf, pages, mfa } = deps;
  const secureCookies = deps.issuer.startsWith('https://');
  const byOrigin = new Map(deps.protocols.map((p) => [p.origin, p]));

  /** Where this login's challenge can send a code: listed only when there is somewhere. */
  async function destinationsOf(uid: string, methods: readonly MfaMethod[]) {
    const sending = deps.destinations && methods.some((m) => deps.destinations!.methods.includes(m)) ? deps.destinations : undefined;
    const tx = sending ? await mfa.transactions.get(uid) : undefined;
    const found = tx && sending ? await sending.offered(tx.accountId, methods) : [];
    return found.length ? { destinations: found, tx } : {};
  }

  /**
   * The page again after a wrong code keeps the code field of the code this login sent (a new send
   * would have to wait out the resend interval).
   */
  async function pageDestinations(uid: string, methods: readonly MfaMethod[]) {
    const { destinations, tx } = await destinationsOf(uid, methods);
    if (!destinations || !tx) return {};
    const sent = await mfa.transactions.challenge(tx, OTP_CHALLENGE_PATH, false);
    const to = destinations.find((d) => d.channel === sent?.method && d.id === (sent.state as Partial<SentState> | undefined)?.destinationId);
    return { destinations, ...(to ? { started: { method: to.channel, mask: to.mask } } : {}) };
  }

  /** This browser's login named by the URL, if it is in one by that uid. */
  async function find(ctx: Context, uid: string): Promise<LoginRequest | undefined> {
    for (const protocol of deps.protocols) {
      const request = await protocol.load(exchange(ctx), uid);
      if (!request) continue;
      // From here on, this request's audit events name the relying party the login is for.
      const scope = requestScope();
      if (scope) scope.clientId = request.clientId;
      return request;
    }
    return undefined;
  }

  /** The page of a login that is unknown or over: back to the app it was for, when this browser remembers it. */
  async function goneInteraction(ctx: Context, uid: string | undefined) {
    const last = lastInteraction(ctx);
    // Back from a later step lands on an earlier interaction that is over: the one this browser is in now takes it.
    if (last && uid && last.uid !== uid) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${last.uid}`);
      return;
    }
    const rp = last ? await deps.relyingParty(last.clientId) : undefined;
    ctx.status = 400;
    await pages.render(
      ctx,
      'expired',
      // The app's own home page when it registered one, else the origin its sign-in would have returned to.
      { app: { name: rp?.name ?? null, url: rp?.homeUri ?? last?.appUrl ?? null } },
      { organizationId: rp?.organizationId, uiLocales: last?.uiLocales },
    );
  }

  /** A browser's form post shows no page: what the page would show is kept for the GET the browser is sent to. */
  function redirectToStep(ctx: Context, request: LoginRequest, view: string, extra: Record<string, unknown>) {
    setFlash(ctx, request.uid, { view, data: Object.fromEntries(Object.entries(extra).filter(([key]) => FLASH_KEYS.has(key))) });
    ctx.status = 303;
    ctx.redirect(`/interaction/${request.uid}`);
  }

  /** A browser's form post (a JSON client's answer is never a page). */
  const isPagePost = (ctx: Context) => ctx.method === 'POST' && !wantsJson(ctx);

  const kit: InteractionKit = {
    async load(ctx) {
      const request = await find(ctx, validate(uidParam, ctx.params.uid));
      if (!request) throw badRequest('interaction does not match this browser session');
      // The error page of a step that fails from here on links back to the sign-in page.
      ctx.state.signInPage = `/interaction/${request.uid}`;
      return request;
    },
    async loadPage(ctx) {
      const uid = uidParam.safeParse(ctx.params.uid);
      const request = uid.success ? await find(ctx, uid.data) : undefined;
      if (!request) await goneInteraction(ctx, uid.data);
      return request;
    },
    async loadForPost(ctx, prompt) {
      const request = await kit.load(ctx);
      csrf.verify(ctx, request.uid);
      if (prompt && request.prompt !== prompt) throw new IdpError('invalid_step', `this interaction is at the ${request.prompt} step`);
      return request;
    },
    meta: (ctx) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined, requestId: ctx.state.requestId, deviceToken: ctx.cookies.get(DEVICE_COOKIE) }),
    protocolOf: (request) => byOrigin.get(request.origin)!,
    async render(ctx, request, view, extra = {}) {
      if (isPagePost(ctx)) return redirectToStep(ctx, request, view, extra);
      allowFormTargets(ctx.res, request.formTargets);
      const rp = await deps.relyingParty(request.clientId);
      allowImages(ctx.res, [rp?.logoUri]);
      const appUrl = appOrigin(request.formTargets[0]);
      rememberInteraction(ctx, {
        uid: request.uid,
        clientId: request.clientId,
        ...(appUrl ? { appUrl } : {}),
        ...(request.uiLocales ? { uiLocales: request.uiLocales } : {}),
      });
      const rememberMe = view === 'login' && !extra.reauth && deps.offersRememberMe ? await deps.offersRememberMe(request.clientId) : false;
      const offered = view === 'mfa' && Array.isArray(extra.methods) ? await pageDestinations(request.uid, extra.methods as MfaMethod[]) : {};
      const trust = view === 'trust-device' ? { trustDays: await mfa.trustedDeviceDays(request.uid) } : {};
      await pages.render(
        ctx,
        view,
        {
          uid: request.uid,
          client: { name: rp?.name ?? null, logoUri: rp?.logoUri ?? null },
          csrf: csrf.token(request.uid),
          scopes: request.scopes,
          rememberMe,
          ...offered,
          ...trust,
          ...extra,
        },
        { organizationId: rp?.organizationId, uiLocales: request.uiLocales },
      );
    },
    async renderFlash(ctx, request, step) {
      const flash = takeFlash(ctx, request.uid);
      // A locked second factor's page is a message with no form: shown whatever the login's step is now.
      if (!flash || (stepOfPage(flash.view, flash.data) !== step && flash.data.locked !== true)) return false;
      const { view, data } = flash;
      if (view !== 'enroll') await kit.render(ctx, request, view, data);
      else {
        // The enrolment is shown again from the login's transaction (its secret never travels in the flash).
        const methods = Array.isArray(data.methods) ? (data.methods as MfaMethod[]) : [];
        const method = methods.find((m) => m === data.method);
        if (!method) return false;
        await kit.renderEnrolment(ctx, request, method, methods, data);
      }
      return true;
    },
    async renderEnrolment(ctx, request, method, offered, extra = {}) {
      if (isPagePost(ctx)) return redirectToStep(ctx, request, 'enroll', { ...extra, method, methods: offered });
      const { shown } = await mfa.enrollBegin(request.uid, method, deps.issuer);
      await kit.render(ctx, request, 'enroll', { method, methods: offered, enrollment: shown, ...extra });
    },
    async respondOutcome(ctx, request, outcome) {
      switch (outcome.kind) {
        case 'finish': {
          if (outcome.device) {
            ctx.cookies.set(DEVICE_COOKIE, outcome.device.token, {
              httpOnly: true,
              sameSite: 'strict',
              secure: secureCookies,
              maxAge: outcome.device.maxAgeMs,
              path: '/',
              overwrite: true,
              signed: false,
            });
          }
          // A session of the same account in this browser carries on (it is raised, not added).
          const keep = request.session?.accountId === outcome.login.accountId ? request.session.uid : undefined;
          const ended = deps.makeRoom ? await deps.makeRoom(outcome.login, keep) : 0;
          const redirectTo = await kit.protocolOf(request).finish(exchange(ctx), request, outcome.login);
          // The device token lives in its httpOnly cookie only: script on the page must never read it.
          respondStep(ctx, { status: 'success', redirect_to: redirectTo, ...(ended > 0 ? { sessions_ended: ended } : {}) });
          return;
        }
        case 'deny': {
          if (!outcome.unmet && wantsJson(ctx)) throw new IdpError('access_denied', outcome.description);
          // A browser is not left on a page it cannot get past: the app hears access_denied, or, when it asked for more
          // than the account can prove, unmet_authentication_requirements (and may ask for less).
          const reason = outcome.unmet ? { unmet: outcome.description } : undefined;
          respondStep(ctx, { status: 'aborted', redirect_to: await kit.protocolOf(request).abort(exchange(ctx), request, reason) });
          return;
        }
        case 'mfa':
          if (wantsJson(ctx)) {
            const { destinations } = await destinationsOf(request.uid, outcome.methods);
            ctx.body = { status: 'mfa_required', methods: outcome.methods, ...(destinations ? { destinations } : {}) };
          } else if (await deps.runsInApp?.(request.uid)) await kit.render(ctx, request, 'mfa-step');
          else await kit.render(ctx, request, 'mfa', { methods: outcome.methods });
          return;
        case 'enroll':
          if (!outcome.methods.length) {
            // Nothing this account could set up here would do: the app hears so instead of a page with no way on.
            const unmet = { unmet: 'no method that the sign-in requires can be set up here' };
            respondStep(ctx, { status: 'aborted', redirect_to: await kit.protocolOf(request).abort(exchange(ctx), request, unmet) });
          } else if (wantsJson(ctx)) ctx.body = { status: 'mfa_enrollment_required', allowed_methods: outcome.methods };
          else await kit.renderEnrolment(ctx, request, outcome.methods[0]!, outcome.methods);
          return;
        case 'reauth':
          if (wantsJson(ctx)) ctx.body = { status: 'reauth_required' };
          else await kit.render(ctx, request, 'login', { reauth: true, username: await mfa.reauthUsername(request.uid) });
          return;
        case 'trust_device':
          if (wantsJson(ctx)) ctx.body = { status: 'trust_device' };
          else await kit.render(ctx, request, 'trust-device');
          return;
        case 'password_change':
          if (wantsJson(ctx)) ctx.body = { status: 'password_change_required' };
          else await kit.render(ctx, request, 'password-change');
      }
    },
  };
  return kit;
}
