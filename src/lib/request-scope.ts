import { AsyncLocalStorage } from 'node:async_hooks';

/** What ties one request's audit events together; filled in as the request learns it (the client comes with the interaction). */
export interface RequestScope {
  requestId?: string;
  ip?: string;
  clientId?: string;
  /** Who the request acts for when it is authenticated as a whole (an API key): the actor of events that name none. */
  actor?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (the rest of the request) with `scope` as the current request's. */
export const runInRequestScope = <T>(scope: RequestScope, fn: () => T): T => storage.run(scope, fn);

/** The current request's scope, if the code runs inside one (not in the CLI or a timer). */
export const requestScope = (): RequestScope | undefined => storage.getStore();
