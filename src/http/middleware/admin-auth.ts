import type { Context, Middleware } from 'koa';
import { apiKeyActor, grants, type ApiKeyService, type ApiScope } from '../../admin/api-key.service.js';
import type { Granter } from '../../admin/api-key-admin.service.js';
import type { Caller } from '../../admin/changed-by.js';
import { IdpError } from '../../lib/errors.js';
import { requestScope } from '../../lib/request-scope.js';
import type { ApiKeyRow } from '../../store/database.js';

/** Resolves `Authorization: Bearer <api key>`; 401 without a valid key. */
export function apiKeyAuth(keys: ApiKeyService): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
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
  return { actor: apiKeyActor(key), ip: ctx.ip, requestId: ctx.state.requestId, organizationId: key.organizationId };
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
