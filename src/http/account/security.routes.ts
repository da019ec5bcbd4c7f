import Router from '@koa/router';
import type { Context } from 'koa';
import type { MfaMethod } from '../../policy/types.js';
import { z } from '../../lib/zod.js';
import { IdpError } from '../../lib/errors.js';
import { HTTP_STATUS } from '../middleware/error-status.js';
import { body, validate } from '../middleware/body.js';
import { responseOf } from '../middleware/factor-response.js';
import { principalOf } from '../self-service/authenticate.js';
import { addDestinationIn, removeDestinationIn, verifyDestinationIn } from '../self-service/destinations.routes.js';
import { allowedAndFreshUser, changeContext, confirmEnrolmentIn, freshUser, removeCredentialIn } from '../self-service/factors.routes.js';
import { freshMfaUser, recoveryMeta } from '../self-service/trusted-contacts.routes.js';
import type { AccountConsoleDeps } from './account.routes.js';
import { toStepUp, type Console } from './console.js';

// Forms post their CSRF token beside their fields (the authentication checked it); parsing drops it.
const uuid = z.uuid();
const renameForm = z.object({ name: z.string().trim().min(1).max(64) });
const destinationForm = z.object({ kind: z.enum(['phone', 'email']), value: z.string().trim().min(1).max(320) });
const contactsForm = z.object({ user_ids: z.string().max(2000) });
/** Question `i` and its answer come as `question_i` and `answer_i`. */
const answersForm = z.record(z.string().regex(/^(question|answer)_\d{1,2}$|^csrf$/), z.string().max(1000));

/** The key of an authenticator app in groups of four, as people type it. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)?.join(' ') ?? secret;

/** Authenticator app, passkeys, code destinations, security questions, backup codes and recovery contacts. */
export function securityRoutes(view: Console, deps: AccountConsoleDeps): Router {
  const router = new Router({ prefix: '/account/security' });
  router.use(view.guard);
  const { factors } = deps;
  const registered = new Set<MfaMethod>(deps.plugins.map((p) => p.descriptor.method));

  router.get(
    '/',
    view.page('security', async (ctx) => {
      const { user } = principalOf(ctx);
      const [summary, passkeys, destinations, questions, contacts] = await Promise.all([
        factors.summary(user.id),
        registered.has('passkey') ? factors.listCredentials(user, 'passkey') : [],
        deps.destinations.list(user.id),
        registered.has('questions') ? factors.status(user.id, 'questions') : undefined,
        deps.contacts.list(user),
      ]);
      return { summary, passkeys, destinations, questions, contacts, registered: [...registered] };
    }),
  );

  /** A refused step of a flow with its own page (set-up, verification): that page again, with the API's error. */
  async function refused(ctx: Context, err: unknown, again: () => Promise<void>) {
    if (!(err instanceof IdpError) || HTTP_STATUS[err.error] >= 500) throw err;
    if (err.error === 'step_up_required') return toStepUp(ctx, '/account/security');
    ctx.status = HTTP_STATUS[err.error];
    ctx.state.accountError = await view.errorFor(ctx, err);
    await again();
  }

  // Authenticator app: the key is shown once, on the answer to the post that made it.
  router.post(
    '/totp',
    view.act('security', async (ctx) => {
      const user = await allowedAndFreshUser(ctx, factors, 'totp');
      const start = await factors.beginEnrolment(
        user,
        'totp',
        user.email ?? user.username ?? user.externalId,
        await deps.issuerName(user.organizationId),
        changeContext(ctx),
      );
      const shown = start.shown as { secret: string; qr_code_png?: string; otpauth_uri?: string };
      await view.render(ctx, 'totp-setup', 'security', { key: grouped(shown.secret), qr: shown.qr_code_png, uri: shown.otpauth_uri });
    }),
  );
  router.post(
    '/totp/confirm',
    view.act('security', async (ctx) => {
      await confirmEnrolmentIn(ctx, deps, 'totp', responseOf(ctx));
      return 'totp_enrolled';
    }),
  );
  router.post(
    '/totp/remove',
    view.act('security', async (ctx) => {
      await factors.removeFactor(await freshUser(ctx, factors), 'totp', changeContext(ctx));
      return 'totp_removed';
    }),
  );

  // Passkeys: the ceremony runs in the browser (WebAuthn); its result is posted with the form's CSRF token.
  router.post(
    '/passkeys',
    view.act('security', async (ctx) => {
      const user = await allowedAndFreshUser(ctx, factors, 'passkey');
      const start = await factors.beginEnrolment(
        user,
        'passkey',
        user.email ?? user.username ?? user.externalId,
        await deps.issuerName(user.organizationId),
        changeContext(ctx),
      );
      await view.render(ctx, 'passkey-add', 'security', { options: JSON.stringify(start.shown).replace(/</g, '\\u003c') });
    }),
  );
  router.post(
    '/passkeys/finish',
    view.act('security', async (ctx) => {
      await confirmEnrolmentIn(ctx, deps, 'passkey', responseOf(ctx));
      return 'passkey_added';
    }),
  );
  router.post(
    '/passkeys/:id/rename',
    view.act('security', async (ctx) => {
      const { name } = validate(renameForm, body(ctx));
      await factors.renameCredential(await freshUser(ctx, factors), 'passkey', validate(uuid, ctx.params.id), name, changeContext(ctx));
      return 'passkey_renamed';
    }),
  );
  router.post(
    '/passkeys/:id/remove',
    view.act('security', async (ctx) => {
      await removeCredentialIn(ctx, factors, 'passkey', validate(uuid, ctx.params.id));
      return 'passkey_removed';
    }),
  );

  // Phone numbers and e-mail addresses: added pending, verified with the code sent there.
  const verifyPage = async (ctx: Context) => {
    const found = await deps.destinations.get(principalOf(ctx).user.id, validate(uuid, ctx.params.id));
    await view.render(ctx, 'destination-verify', 'security', { destination: found, error: ctx.state.accountError as string | undefined });
  };
  router.post(
    '/destinations',
    view.act('security', async (ctx) => {
      const { kind, value } = validate(destinationForm, body(ctx));
      const added = await addDestinationIn(ctx, deps, kind, value);
      ctx.status = 303;
      ctx.redirect(`/account/security/destinations/${added.id}?done=destination_added`);
    }),
  );
  router.get('/destinations/:id', verifyPage);
  router.post('/destinations/:id/verify', async (ctx) => {
    try {
      await verifyDestinationIn(ctx, deps, validate(uuid, ctx.params.id), responseOf(ctx));
    } catch (err) {
      return refused(ctx, err, () => verifyPage(ctx));
    }
    ctx.status = 303;
    ctx.redirect('/account/security?done=destination_verified');
  });
  router.post('/destinations/:id/resend', async (ctx) => {
    try {
      await deps.destinations.resend(principalOf(ctx).user, validate(uuid, ctx.params.id));
    } catch (err) {
      return refused(ctx, err, () => verifyPage(ctx));
    }
    ctx.status = 303;
    ctx.redirect(`/account/security/destinations/${ctx.params.id}?done=code_sent`);
  });
  router.post(
    '/destinations/:id/remove',
    view.act('security', async (ctx) => {
      await removeDestinationIn(ctx, deps, validate(uuid, ctx.params.id));
      return 'destination_removed';
    }),
  );

  // Security questions: the answers chosen replace the earlier ones.
  router.post(
    '/questions',
    view.act('security', async (ctx) => {
      const form = validate(answersForm, body(ctx));
      const answers = Object.keys(form)
        .filter((k) => k.startsWith('question_'))
        .map((k) => ({ question_id: form[k]!, answer: form[`answer_${k.slice('question_'.length)}`] ?? '' }));
      await deps.limiter.hit(`mfa-set:${principalOf(ctx).user.id}`, deps.codesPerUserPerMinute, 60);
      await factors.set(await allowedAndFreshUser(ctx, factors, 'questions'), 'questions', { answers }, changeContext(ctx));
      return 'questions_saved';
    }),
  );
  router.post(
    '/questions/remove',
    view.act('security', async (ctx) => {
      await factors.removeFactor(await freshUser(ctx, factors), 'questions', changeContext(ctx));
      return 'questions_removed';
    }),
  );

  // Backup codes: a new set, shown once; the earlier set stops working.
  router.post(
    '/backup-codes',
    view.act('security', async (ctx) => {
      const shown = await factors.issue(await allowedAndFreshUser(ctx, factors, 'backup_code'), 'backup_code', changeContext(ctx));
      await view.render(ctx, 'backup-codes', 'security', { codes: shown.backup_codes });
    }),
  );

  // Recovery: the people who can vouch for the user when every factor is lost.
  router.post(
    '/trusted-contacts',
    view.act('security', async (ctx) => {
      const { user_ids } = validate(contactsForm, body(ctx));
      const ids = user_ids.split(/[\s,]+/).filter(Boolean);
      const parsed = validate(z.array(uuid).max(10), ids);
      await deps.contacts.replace(await freshMfaUser(ctx, factors), parsed, recoveryMeta(ctx));
      return 'contacts_saved';
    }),
  );

  return router;
}
