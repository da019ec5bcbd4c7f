import type { Logger } from '../lib/logger.js';

/**
 * What our middleware puts on every request, so handlers read typed values instead of koa's `any`
 * (request-context.ts sets requestId and log; the routers set params).
 */
declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log?: Logger;
  }
  interface DefaultContext {
    params: Record<string, string>;
  }
}
