import Router from '@koa/router';
import type { Context } from 'koa';
import { OTP_CHALLENGE_PATH } from '../../authn/one-time-codes/otp-factor.js';
import { IdpError } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';
import { sendBody } from '../../authn/one-time-codes/otp.schema.js';
import { body, validate } from '../middleware/body.js';
import { HTTP_STATUS } from '../middleware/error-status.js';
import { responseOf } from '../middleware/factor-response.js';
import { principalOf } from '../self-service/authenticate.js';
import { stepUpIn } from '../self-service/factors.routes.js';
import type { AccountConsoleDeps } from './account.routes.js';
import type { Console } from './console.js';
import { consolePath } from './sign-in.js';

const returnQuery = z.object({ return: z.string().max(200).optional() });
const sendForm = sendBody.extend({ return: z.string().max(200).optional() });

/**
 * The step-up a change asks for when the session's second factor is not recent, the API's own
 * (`POST /api/v1/mfa/verify`): a code of the authenticator app or a backup code, a code sent to a
 * verified phone or address, a passkey (with script), or signing in again with a second factor.
 * Then back to the page the change was made on.
 */
export function stepUpRoutes(view: Console, deps: AccountConsoleDeps): Router {
  const router = new Router({ prefix: '/account/step-up' });
  router.use(view.guard);
  const { factors } = deps;
  const byMethod = new Map(deps.plugins.map((p) => [p.descriptor.method, p]));
  const sentBy = deps.plugins.filter((p) => p.paths.challenge === OTP_CHALLENGE_PATH).map((p) => p.descriptor.method);

  async function show(ctx: Context, back: string, extra: Record<string, unknown> = {}) {
    const { user } = principalOf(ctx);
    const [summary, offered] = await Promise.all([factors.summary(user.id), deps.destinations.offered(user.id, sentBy)]);
    const methods = (summary.methods as string[]).filter((m) => (byMethod.get(m as never)?.descriptor.aal ?? 1) >= 2);
    await view.render(ctx, 'step-up', 'security', {
      back,
      codes: methods.includes('totp') || methods.includes('backup_code'),
      passkey: methods.includes('passkey'),
      offered,
      reauth: `/account/sign-in?${new URLSearchParams({ return: back, reauth: methods.length ? 'mfa' : 'password' })}`,
      ...extra,
    });
  }

  async function failed(ctx: Context, back: string, err: unknown) {
    if (!(err instanceof IdpError) || HTTP_STATUS[err.error] >= 500) throw err;
    ctx.status = HTTP_STATUS[err.error];
    await show(ctx, back, { error: await view.errorFor(ctx, err) });
  }

  router.get('/', async (ctx) => {
    await show(ctx, consolePath(validate(returnQuery, ctx.query).return));
  });

  router.post('/', async (ctx) => {
    const back = consolePath((body(ctx) as { return?: unknown } | undefined)?.return);
    try {
      await stepUpIn(ctx, deps, responseOf(ctx));
    } catch (err) {
      return failed(ctx, back, err);
    }
    ctx.status = 303;
    ctx.redirect(`${back}?done=stepped_up`);
  });

  router.post('/send', async (ctx) => {
    const form = validate(sendForm, body(ctx));
    const back = consolePath(form.return);
    const { user, sessionUid } = principalOf(ctx);
    try {
      await factors.startVerification(user, sessionUid, form.channel, { channel: form.channel, destination_id: form.destination_id });
    } catch (err) {
      return failed(ctx, back, err);
    }
    await show(ctx, back, { sent: true });
  });

  return router;
}
