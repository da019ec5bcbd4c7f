import type { Context } from 'koa';
import { requestedAalOf } from '../../policy/assurance.js';
import type { MfaService, Outcome, RequestMeta } from '../../authn/mfa.service.js';
import { DEVICE_COOKIE } from '../../authn/trusted-device.service.js';
import { allowFormTargets } from '../../lib/csp.js';
import { IdpError, badRequest } from '../../lib/errors.js';
import { requestScope } from '../../lib/request-scope.js';
import type { ProviderHolder } from '../../oidc/provider-holder.js';
import type { Aal, MfaMethod } from '../../policy/types.js';
import { validate } from '../middleware/body.js';
import type { Csrf } from '../middleware/csrf.js';
import { wantsJson } from '../middleware/error-handler.js';
import type { ViewRenderer } from '../../lib/views.js';
import { uidParam } from './interaction.schema.js';
import { respondStep } from './respond.js';

export type Details = Awaited<ReturnType<ProviderHolder['current']['interactionDetails']>>;

/** Reasons our own login Check gives; any other reason (no session, max_age, prompt=login) means a fresh login. */
export const STEP_UP_REASONS = new Set(['mfa_required']);

export interface InteractionKit {
  load(ctx: Context): Promise<Details>;
  loadForPost(ctx: Context, step?: string): Promise<Details>;
  requestedAal(details: Details): Aal | undefined;
  meta(ctx: Context): RequestMeta;
  isStepUp(details: Details): boolean;
  render(ctx: Context, details: Details, view: string, extra?: Record<string, unknown>): Promise<void>;
  /** The enrolment page of `method`, showing this login's pending credential. */
  renderEnrolment(ctx: Context, details: Details, method: MfaMethod, extra?: Record<string, unknown>): Promise<void>;
  respondOutcome(ctx: Context, details: Details, outcome: Outcome): Promise<void>;
}

export function createInteractionKit(deps: { providers: ProviderHolder; csrf: Csrf; views: ViewRenderer; mfa: MfaService; issuer: string }): InteractionKit {
  const { providers, csrf, views, mfa } = deps;
  const secureCookies = deps.issuer.startsWith('https://');
  const clientIdOf = (d: Details) => (d.params.client_id as string | undefined) ?? '';

  const kit: InteractionKit = {
    async load(ctx) {
      validate(uidParam, ctx.params.uid);
      const details = await providers.current.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== ctx.params.uid) throw badRequest('interaction does not match this browser session');
      // From here on, this request's audit events name the relying party the login is for.
      const scope = requestScope();
      if (scope) scope.clientId = clientIdOf(details);
      return details;
    },
    async loadForPost(ctx, step) {
      const details = await kit.load(ctx);
      csrf.verify(ctx, details.uid);
      if (step && details.prompt.name !== step) throw new IdpError(400, 'invalid_step', `this interaction is at the ${details.prompt.name} step`);
      return details;
    },
    requestedAal: (details) => requestedAalOf(details.params.acr_values),
    meta: (ctx) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined, requestId: ctx.state.requestId, deviceToken: ctx.cookies.get(DEVICE_COOKIE) }),
    isStepUp: (details) => Boolean(details.session?.accountId) && details.prompt.reasons.every((r) => STEP_UP_REASONS.has(r)),
    async render(ctx, details, view, extra = {}) {
      ctx.type = 'html';
      // Every form here ends, after redirects, at the redirect_uri the provider validated for this request.
      allowFormTargets(ctx.res, [(details.params.redirect_uri as string | undefined) ?? '']);
      ctx.body = await views.render(view, {
        uid: details.uid, clientId: clientIdOf(details), csrf: csrf.token(details.uid),
        scopes: ((details.params.scope as string | undefined) ?? '').split(' ').filter(Boolean), ...extra,
      });
    },
    async renderEnrolment(ctx, details, method, extra = {}) {
      const { shown } = await mfa.enrollBegin(details.uid, method, deps.issuer);
      await kit.render(ctx, details, 'enroll', { method, enrollment: shown, ...extra });
    },
    async respondOutcome(ctx, details, outcome) {
      switch (outcome.kind) {
        case 'finish': {
          if (outcome.device) {
            ctx.cookies.set(DEVICE_COOKIE, outcome.device.token, {
              httpOnly: true, sameSite: 'strict', secure: secureCookies, maxAge: outcome.device.maxAgeMs, path: '/', overwrite: true, signed: false,
            });
          }
          const redirectTo = await providers.current.interactionResult(ctx.req, ctx.res, {
            login: { ...outcome.login, remember: true },
          }, { mergeWithLastSubmission: false });
          // The device token lives in its httpOnly cookie only: script on the page must never read it.
          respondStep(ctx, { status: 'success', redirect_to: redirectTo });
          return;
        }
        case 'deny':
          throw new IdpError(403, 'access_denied', outcome.description);
        case 'mfa':
          if (wantsJson(ctx)) ctx.body = { status: 'mfa_required', methods: outcome.methods };
          else await kit.render(ctx, details, 'mfa', { methods: outcome.methods });
          return;
        case 'enroll':
          if (wantsJson(ctx)) ctx.body = { status: 'mfa_enrollment_required', allowed_methods: outcome.methods };
          else await kit.renderEnrolment(ctx, details, outcome.methods[0]!);
          return;
        case 'reauth':
          if (wantsJson(ctx)) ctx.body = { status: 'reauth_required' };
          else await kit.render(ctx, details, 'login', { reauth: true, username: await mfa.reauthUsername(details.uid) });
          return;
        case 'trust_device':
          if (wantsJson(ctx)) ctx.body = { status: 'trust_device' };
          else await kit.render(ctx, details, 'trust-device');
      }
    },
  };
  return kit;
}

