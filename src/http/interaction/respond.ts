import type { Context } from 'koa';
import { wantsJson } from '../middleware/error-handler.js';

/** JSON clients get the body; browsers follow `redirect_to` with a 303. */
export function respondStep(ctx: Context, json: Record<string, unknown> & { redirect_to?: string }): void {
  if (wantsJson(ctx) || !json.redirect_to) {
    ctx.body = json;
    return;
  }
  ctx.status = 303;
  ctx.redirect(json.redirect_to);
}
