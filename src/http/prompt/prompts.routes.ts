import fs from 'node:fs';
import Router from '@koa/router';
import type { PromptService } from '../../authn/factors/prompt/prompts.js';
import { promptAnswerSchema, promptIdSchema } from '../../authn/factors/prompt/prompt.schema.js';
import { notFound } from '../../lib/errors.js';
import type { Pages } from '../../i18n/pages.js';
import { body, validate } from '../middleware/body.js';
import type { RateLimiter } from '../middleware/rate-limit.js';

/**
 * What a device reaches without a session: the VAPID key a browser subscribes with, an open
 * prompt's details, and the signed answer (the signature is the proof, the prompt id a 128-bit
 * bearer value that expires within two minutes). Rate limited per address, as ids are guessable
 * input. The device page for browsers and its service worker live under /prompt/.
 */
export function promptRoutes(deps: { prompts: PromptService; limiter: RateLimiter; perIpPerMinute: number; pages: Pages; serviceWorker: string }): Router {
  const router = new Router();
  const worker = fs.readFileSync(deps.serviceWorker);

  const limited = async (ip: string) => deps.limiter.hit(`prompt-ip:${ip}`, deps.perIpPerMinute, 60);
  const idOf = (raw: string | undefined) => {
    const parsed = promptIdSchema.safeParse(raw);
    if (!parsed.success) throw notFound('no such prompt');
    return parsed.data;
  };

  router.get('/api/v1/mfa/prompt/vapid-key', async (ctx) => {
    ctx.body = { public_key: await deps.prompts.vapidPublicKey() };
  });
  router.get('/api/v1/prompts/:id', async (ctx) => {
    await limited(ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.prompts.view(idOf(ctx.params.id));
  });
  router.post('/api/v1/prompts/:id/respond', async (ctx) => {
    await limited(ctx.ip);
    const id = idOf(ctx.params.id);
    ctx.body = await deps.prompts.answer(id, validate(promptAnswerSchema, body(ctx)));
  });

  // The page a notification opens (the prompt id travels in the fragment, never to a server log).
  router.get('/prompt/', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    await deps.pages.render(ctx, 'prompt');
  });
  // Served from /prompt/ so that its scope is /prompt/ and nothing else of the site.
  router.get('/prompt/sw.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = worker;
  });
  return router;
}
