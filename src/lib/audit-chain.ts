import { createHash } from 'node:crypto';

/**
 * The audit trail's hash chain, form 1. Frozen: every stored hash depends on it, so a change means
 * a new form (and a new marker), never an edit here.
 *
 *   content  = JSON array ["audit-event/1", at, type, outcome, actor, subject, organization_id, ip,
 *              request_id, client_id, data], absent fields as null, `at` as ISO 8601 UTC with
 *              milliseconds (`2026-01-02T03:04:05.678Z`), `data` with every object's keys sorted
 *              (by UTF-16 code units, as Array.prototype.sort), no whitespace anywhere
 *   digest   = hex SHA-256 of the UTF-8 content
 *   hash     = hex SHA-256 of the ASCII text prev_hash + digest
 *   prev_hash of the first row = 64 zeros; of every other row, the hash of the row before it (by id)
 *
 * The application computes the digest (it owns the JSON form); the database links it to the chain
 * under a lock (see the migration that introduced the chain), so concurrent writers from any node
 * extend one line.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of a row the chain covers, as they are stored and exported. */
export interface ChainedContent {
  at: Date | string;
  type: string;
  outcome: string;
  actor: string | null;
  subject: string | null;
  organizationId: string | null;
  ip: string | null;
  requestId: string | null;
  clientId: string | null;
  data: unknown;
}

/** JSON with sorted object keys, so equal values serialise to equal text whatever order they were built in. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * `data` as the database will give it back: JSON-only values (dates as strings, no undefined, no
 * functions). Stored and digested in this form, so what is read later digests the same.
 */
export const plainJson = (data: Record<string, unknown> | undefined): Record<string, unknown> =>
  JSON.parse(JSON.stringify(data ?? {})) as Record<string, unknown>;

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export function contentDigest(c: ChainedContent): string {
  const at = new Date(c.at).toISOString();
  const fields = [c.type, c.outcome, c.actor, c.subject, c.organizationId, c.ip, c.requestId, c.clientId];
  return sha256Hex(`[${['audit-event/1', at, ...fields].map((f) => JSON.stringify(f ?? null)).join(',')},${stableJson(c.data)}]`);
}

export const chainHash = (prevHash: string, digest: string): string => sha256Hex(prevHash + digest);
