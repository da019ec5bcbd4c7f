import type { AuditService } from '../audit/audit.service.js';
import { lastUsedIsStale, type Clock } from '../lib/clock.js';
import { randomToken, safeEqual, sha256 } from '../lib/crypto.js';
import type { ApiKeyRow } from '../store/database.js';
import type { ApiKeyRepository } from '../store/repositories/api-key.repository.js';

/**
 * `idp:mfa:write` mints second factors for users (TOTP secrets, backup codes): whoever holds it can
 * pass any of its users' MFA, so it is granted apart from `idp:write`. `admin` holds every scope.
 */
export const API_SCOPES = ['idp:read', 'idp:write', 'idp:mfa:write', 'sentinel:write', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const GENERATED = /^idp_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/;

/**
 * Keys look like `idp_<8-char id>_<secret>`; the id finds the row, the SHA-256 of the whole key
 * is compared in constant time (keys carry 256 random bits, so a fast hash is enough).
 * An operator-chosen bootstrap key has no id part; its lookup id is derived from its hash.
 */
export function lookupPrefix(key: string): string {
  return GENERATED.test(key) ? key.slice(0, 12) : `boot_${sha256(key).slice(0, 12)}`;
}

/** How the audit trail names a key: its lookup id, never anything of the secret. */
export const apiKeyActor = (key: Pick<ApiKeyRow, 'prefix'>): string => `apikey:${key.prefix}`;

export function createApiKeyService(repo: ApiKeyRepository, clock: Clock, audit: Pick<AuditService, 'record'>) {
  return {
    async create(name: string, scopes: ApiScope[], organizationId: string | null = null): Promise<{ key: string; row: ApiKeyRow }> {
      const key = `idp_${randomToken(6)}_${randomToken(32)}`;
      const row = await repo.insert({ prefix: lookupPrefix(key), secretHash: sha256(key), name, scopes, organizationId });
      return { key, row };
    },
    /** Makes sure the operator's bootstrap key exists with every scope (idempotent across nodes). */
    async ensureBootstrap(key: string): Promise<void> {
      const prefix = lookupPrefix(key);
      if (await repo.findActiveByPrefix(prefix)) return;
      await repo.insert({ prefix, secretHash: sha256(key), name: 'bootstrap', scopes: [...API_SCOPES], organizationId: null }).catch(async (err: unknown) => {
        if (!(await repo.findActiveByPrefix(prefix))) throw err;
      });
    },
    async authenticate(key: string): Promise<ApiKeyRow | undefined> {
      if (key.length < 24 || key.length > 256) return undefined;
      const row = await repo.findActiveByPrefix(lookupPrefix(key));
      if (!row || !safeEqual(row.secretHash, sha256(key))) return undefined;
      const now = clock.now();
      // Each use of a key is evidence, but a row per read request would drown the trail: one
      // event per key per minute, riding on the "last used" write that happens at that pace anyway.
      if (lastUsedIsStale(row.lastUsedAt, now) && (await repo.touch(row.id, new Date(now), row.lastUsedAt))) {
        await audit.record({
          type: 'admin.api_key.used',
          outcome: 'success',
          actor: apiKeyActor(row),
          subject: row.id,
          organizationId: row.organizationId,
          data: { name: row.name },
        });
      }
      return row;
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
