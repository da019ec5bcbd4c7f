import type { AuditService } from '../audit/audit.service.js';
import { lastUsedIsStale, type Clock } from '../lib/clock.js';
import { randomToken, safeEqual, sha256 } from '../lib/crypto.js';
import type { ApiKeyRow } from '../store/database.js';
import type { ApiKeyRepository } from '../store/repositories/api-key.repository.js';

/**
 * `idp:mfa:write` mints second factors for users (TOTP secrets, backup codes): whoever holds it can
 * pass any of its users' MFA, so it is granted apart from `idp:write`. `break_glass:request` and
 * `break_glass:approve` are the two halves of emergency access, meant for different keys.
 * `admin` holds every scope.
 */
export const API_SCOPES = ['idp:read', 'idp:write', 'idp:mfa:write', 'sentinel:write', 'break_glass:request', 'break_glass:approve', 'admin'] as const;
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

/** Whether scopes grant `scope`: `admin` holds every scope. */
export const grants = (scopes: readonly string[], scope: ApiScope): boolean => scopes.includes(scope) || scopes.includes('admin');

/** How the audit trail names a key: its lookup id, never anything of the secret. */
export const apiKeyActor = (key: Pick<ApiKeyRow, 'prefix'>): string => `apikey:${key.prefix}`;

export interface ApiKeyServiceDeps {
  repo: ApiKeyRepository;
  clock: Clock;
  audit: Pick<AuditService, 'record'>;
  /** Told when recording a key's last use failed: the request goes on, so nothing else would hear of it. */
  onTouchError: (err: unknown) => void;
}

export function createApiKeyService({ repo, clock, audit, onTouchError }: ApiKeyServiceDeps) {
  // When this node last wrote each key's last use: once a minute per key per node, whatever the row said when read.
  const touched = new Map<string, number>();

  /**
   * Each use of a key is evidence, but a row per read request would drown the trail: one event per
   * key per minute, riding on the "last used" write that happens at that pace anyway. The write is
   * a compare-and-set, so of concurrent requests (on any node) one records the use; a failed write
   * is reported and retried at the next use, and never fails the request.
   */
  async function noteUse(row: ApiKeyRow): Promise<void> {
    const now = clock.now();
    const last = Math.max(row.lastUsedAt?.getTime() ?? 0, touched.get(row.id) ?? 0);
    if (!lastUsedIsStale(last ? new Date(last) : null, now)) return;
    touched.set(row.id, now);
    let won: boolean;
    try {
      won = await repo.touch(row.id, new Date(now), row.lastUsedAt);
    } catch (err) {
      touched.delete(row.id);
      onTouchError(err);
      return;
    }
    if (won) {
      await audit.record({
        type: 'admin.api_key.used',
        outcome: 'success',
        actor: apiKeyActor(row),
        subject: row.id,
        organizationId: row.organizationId,
        data: { name: row.name },
      });
    }
  }

  return {
    async create(
      name: string,
      scopes: ApiScope[],
      organizationId: string | null = null,
      expiresAt: Date | null = null,
    ): Promise<{ key: string; row: ApiKeyRow }> {
      const key = `idp_${randomToken(6)}_${randomToken(32)}`;
      const row = await repo.insert({ prefix: lookupPrefix(key), secretHash: sha256(key), name, scopes, organizationId, expiresAt });
      return { key, row };
    },
    /**
     * Makes sure the operator's bootstrap key exists with every scope (idempotent across nodes).
     * Once revoked it stays revoked: a restart must not bring it back.
     */
    async ensureBootstrap(key: string): Promise<void> {
      const prefix = lookupPrefix(key);
      if (await repo.findByPrefix(prefix)) return;
      await repo.insert({ prefix, secretHash: sha256(key), name: 'bootstrap', scopes: [...API_SCOPES], organizationId: null }).catch(async (err: unknown) => {
        if (!(await repo.findByPrefix(prefix))) throw err;
      });
    },
    /**
     * Reads the key's row on every call (one indexed lookup, no cache), so a revocation made on any
     * node holds on every node at once.
     */
    async authenticate(key: string): Promise<ApiKeyRow | undefined> {
      if (key.length < 24 || key.length > 256) return undefined;
      const row = await repo.findActiveByPrefix(lookupPrefix(key));
      if (!row || !safeEqual(row.secretHash, sha256(key))) return undefined;
      if (row.expiresAt && row.expiresAt.getTime() <= clock.now()) return undefined;
      await noteUse(row);
      return row;
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
