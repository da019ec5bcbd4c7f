import type { Context, Middleware } from 'koa';
import { apiKeyActor, grants, type ApiKeyService, type ApiScope } from '../../admin/api-key.service.js';
import type { Granter } from '../../admin/api-key-admin.service.js';
import type { Caller } from '../../admin/changed-by.js';
import { IdpError } from '../../lib/errors.js';
import { requestScope } from '../../lib/request-scope.js';
import type { ApiKeyRow } from '../../store/database.js';

/** An administrator signed in to the admin console: a global one (organizationId null) or one organisation's. */
export interface ConsolePrincipal {
  userId: string;
  organizationId: string | null;
}

/** Authenticates a request by the console's session (undefined: none), or refuses it (a session without its CSRF header). */
export interface ConsoleAuth {
  authenticate(ctx: Context): Promise<ConsolePrincipal | undefined>;
}

/** How the audit trail names a signed-in administrator. */
export const userActor = (userId: string): string => `user:${userId}`;

/**
 * What a console administrator calls the API as: the equivalent of an `admin` key, bound to their
 * organisation when they administer one. Its id is the user's (four-eyes checks compare callers by
 * it, so two administrators are two callers); it has no secret and is never stored.
 */
function consoleKey(p: ConsolePrincipal): ApiKeyRow {
  return {
    id: p.userId,
    prefix: userActor(p.userId),
    secretHash: '',
    name: 'admin console',
    scopes: ['admin'],
    organizationId: p.organizationId,
    lastUsedAt: null,
    revokedAt: null,
    expiresAt: null,
    createdAt: new Date(0),
  };
}

/**
 * Resolves `Authorization: Bearer <api key>`; 401 without a valid key. With no Authorization header
 * at all, the admin console's session (with its CSRF header) may authenticate the request instead.
 */
export function apiKeyAuth(keys: ApiKeyService, consoleAuth?: ConsoleAuth): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const principal = !header && consoleAuth ? await consoleAuth.authenticate(ctx) : undefined;
    if (principal) {
      ctx.state.apiKey = consoleKey(principal);
      ctx.state.actor = userActor(principal.userId);
      const scope = requestScope();
      if (scope) scope.actor = ctx.state.actor as string;
      await next();
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const row = match ? await keys.authenticate(match[1]!) : undefined;
    if (!row) {
      ctx.set('WWW-Authenticate', 'Bearer realm="idp-admin"');
      throw new IdpError('invalid_token', 'a valid API key is required (Authorization: Bearer <key>)');
    }
    ctx.state.apiKey = row;
    // Whatever the request records without naming an actor (events of the services it drives) was done by this key.
    const scope = requestScope();
    if (scope) scope.actor = apiKeyActor(row);
    await next();
  };
}

/** The calling key as the admin services see it: its lookup prefix (never the secret), from where, and its organisation. */
export function caller(ctx: Context): Caller {
  const key = ctx.state.apiKey as ApiKeyRow;
  return { actor: (ctx.state.actor as string | undefined) ?? apiKeyActor(key), ip: ctx.ip, requestId: ctx.state.requestId, organizationId: key.organizationId };
}

/** The caller with the key it calls with, for key management (no key grants more than it holds). */
export function granter(ctx: Context): Granter {
  const key = ctx.state.apiKey as ApiKeyRow;
  return { ...caller(ctx), keyId: key.id, scopes: key.scopes };
}

/** 403 unless the key holds the scope (or `admin`, which holds them all). */
export function requireScope(scope: ApiScope): Middleware {
  return async (ctx, next) => {
    assertScope(ctx, scope);
    await next();
  };
}

export function assertScope(ctx: Context, scope: ApiScope): void {
  const key = ctx.state.apiKey as ApiKeyRow | undefined;
  if (!key || !grants(key.scopes, scope)) throw new IdpError('insufficient_scope', `this API key lacks the ${scope} scope`);
}
