import { X509Certificate } from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import type { PublishedKey } from '../lib/published-key.js';
import type { ChangedBy } from './changed-by.js';

export const KEY_KINDS = ['oidc', 'saml'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** Long enough for service providers that refresh the metadata weekly to see the new certificate twice. */
export const SAML_OVERLAP_DAYS = 14;

interface KeySet {
  describe(): Promise<PublishedKey[]>;
  rotate(retireAfterSec: number): Promise<string>;
}

export interface SigningKeysDeps {
  oidc: KeySet;
  saml: KeySet;
  /** Rebuild this node's provider and metadata at once; the other nodes follow within `keys.reloadSeconds`. */
  reload: Record<KeyKind, () => Promise<boolean>>;
  audit: AuditService;
  /** The longest lifetime of a token the OIDC keys sign: a retiring key stays published at least that long. */
  tokenLifetimeSeconds: number;
}

/**
 * The newest key signs (`current`); the others are still published until `retires_at` (`retiring`).
 * A rotation's new key signs at once, so no key waits as `next` in this model.
 */
function keyView(kind: KeyKind, k: PublishedKey, i: number) {
  const cert = k.certificate ? new X509Certificate(k.certificate) : undefined;
  return {
    kind,
    kid: k.id,
    alg: k.alg,
    use: 'sig',
    state: i === 0 && k.retiresAt === null ? 'current' : 'retiring',
    created_at: k.createdAt.toISOString(),
    retires_at: k.retiresAt?.toISOString() ?? null,
    ...(cert ? { certificate: k.certificate, fingerprint_sha256: cert.fingerprint256, not_after: new Date(cert.validTo).toISOString() } : {}),
  };
}

/** Signing keys for operators (the API and the CLI share these): what is published, and rotation. */
export function createSigningKeysService(deps: SigningKeysDeps) {
  const describe = async (kind: KeyKind) => (await deps[kind].describe()).map((k, i) => keyView(kind, k, i));
  return {
    list: async () => ({ keys: (await Promise.all(KEY_KINDS.map(describe))).flat() }),

    /**
     * Adds an OIDC signing key; the previous ones stay in the JWKS until every token they signed
     * has expired, or `overlapDays` if longer.
     */
    async rotateOidc(by: ChangedBy, overlapDays?: number) {
      const kid = await deps.oidc.rotate(Math.max(deps.tokenLifetimeSeconds + 60, (overlapDays ?? 0) * 86400));
      await deps.audit.record({
        type: 'admin.keys.rotated',
        outcome: 'success',
        ...by,
        subject: kid,
        ...(overlapDays === undefined ? {} : { data: { overlap_days: overlapDays } }),
      });
      await deps.reload.oidc();
      return kid;
    },

    /** Adds a SAML signing key and certificate; the previous certificates stay in the metadata for `overlapDays`. */
    async rotateSaml(by: ChangedBy, overlapDays = SAML_OVERLAP_DAYS) {
      const id = await deps.saml.rotate(overlapDays * 86400);
      await deps.audit.record({ type: 'admin.saml_keys.rotated', outcome: 'success', ...by, subject: id, data: { overlap_days: overlapDays } });
      await deps.reload.saml();
      return id;
    },

    /** One key as `list` shows it. */
    async find(kind: KeyKind, kid: string) {
      return (await describe(kind)).find((k) => k.kid === kid);
    },
  };
}

export type SigningKeysService = ReturnType<typeof createSigningKeysService>;
