import type { AuditService } from '../audit/audit.service.js';
import { badRequest } from '../lib/errors.js';
import { chainHash, contentDigest, GENESIS_HASH } from '../lib/audit-chain.js';
import type { AuditEventRepository, AuditEventRow, AuditFilter } from '../store/repositories/audit-event.repository.js';
import type { AuditFilterQuery, AuditListQuery } from './audit-event.schema.js';
import { assertReachesAll, type Caller, type OrgScope } from './changed-by.js';

/** Rows read per statement when walking the whole trail (verify, export): memory stays flat however long it is. */
const BATCH = 500;

export interface AuditTrailServiceDeps {
  events: AuditEventRepository;
  audit: Pick<AuditService, 'record'>;
}

export const auditEventView = (e: AuditEventRow) => ({
  id: e.id,
  at: e.at.toISOString(),
  type: e.type,
  outcome: e.outcome,
  actor: e.actor,
  subject: e.subject,
  organization_id: e.organizationId,
  ip: e.ip,
  request_id: e.requestId,
  client_id: e.clientId,
  data: e.data,
});

// Opaque to clients; inside, the id the next page starts after.
const CURSOR_PREFIX = 'after:';
const encodeCursor = (id: number) => Buffer.from(`${CURSOR_PREFIX}${id}`).toString('base64url');
function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const id = text.startsWith(CURSOR_PREFIX) && /^\d{1,15}$/.test(text.slice(CURSOR_PREFIX.length)) ? Number(text.slice(CURSOR_PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(id)) throw badRequest('cursor: not a cursor this API gave out');
  return id;
}

function toFilter(q: AuditFilterQuery, scope: OrgScope): AuditFilter {
  const from = q.from === undefined ? undefined : new Date(q.from);
  const to = q.to === undefined ? undefined : new Date(q.to);
  if (from && to && from > to) throw badRequest('from: must not be after to');
  const prefix = q.type?.endsWith('.*') ? q.type.slice(0, -1) : undefined;
  return {
    ...(prefix !== undefined ? { typePrefix: prefix } : q.type !== undefined ? { type: q.type } : {}),
    ...(q.subject !== undefined && { subject: q.subject }),
    ...(q.actor !== undefined && { actor: q.actor }),
    ...(q.client_id !== undefined && { clientId: q.client_id }),
    ...(q.outcome !== undefined && { outcome: q.outcome }),
    ...(from && { from }),
    ...(to && { to }),
    // An organisation's key reads its own organisation's events only (OWASP ASVS 5 V8.2).
    ...(scope.organizationId !== null && { organizationId: scope.organizationId }),
  };
}

export function createAuditTrailService(deps: AuditTrailServiceDeps) {
  const { events } = deps;

  /** Every event matching `filter` up to the chain's head as it stood when called, in id order, a batch at a time. */
  async function* walk(filter: AuditFilter, upToId: number): AsyncGenerator<AuditEventRow> {
    for (let after = 0; ;) {
      const rows = await events.page(filter, after, BATCH, upToId);
      yield* rows;
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  return {
    async list(q: AuditListQuery, scope: OrgScope) {
      const rows = await events.page(toFilter(q, scope), decodeCursor(q.cursor), q.limit + 1);
      const page = rows.slice(0, q.limit);
      return { events: page.map(auditEventView), next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null };
    },

    /**
     * Walks the chain from its first row: each row must name the previous row's hash and carry the
     * hash of its content and that link. The head (the last link, moved by every append in the
     * same transaction) must then be where the walk ended: rows past it were not appended through
     * the chain, and a head no row reaches means rows at the end are gone.
     */
    async verify(scope: OrgScope): Promise<{ valid: boolean; checked: number; first_broken_id?: number }> {
      assertReachesAll(scope, 'verify the whole audit trail');
      let prev = GENESIS_HASH;
      let lastId = 0;
      let checked = 0;
      const broken = (id: number) => ({ valid: false, checked, first_broken_id: id });
      /** The id of the first row that does not link, if any. */
      const follow = (rows: AuditEventRow[]): number | undefined => {
        for (const row of rows) {
          checked++;
          if (row.prevHash !== prev || row.hash !== chainHash(row.prevHash, contentDigest(row))) return row.id;
          prev = row.hash;
          lastId = row.id;
        }
        return undefined;
      };
      for (;;) {
        const rows = await events.page({}, lastId, BATCH);
        const bad = follow(rows);
        if (bad !== undefined) return broken(bad);
        if (rows.length === BATCH) continue;
        // Read after the rows: a row seen is committed, and so is the head that counts it.
        const head = await events.head();
        if (head.lastId === lastId) return head.hash === prev ? { valid: true, checked } : broken(lastId);
        if (head.lastId < lastId) return broken((await events.page({}, head.lastId, 1))[0]!.id);
        // Appended since the last read, or deleted at the end: the head says which.
        const more = await events.page({}, lastId, BATCH, head.lastId);
        if (!more.length) return broken(head.lastId);
        const late = follow(more);
        if (late !== undefined) return broken(late);
      }
    },

    /**
     * The matching events as JSON lines with their chain fields, so that a verifier outside can
     * recompute every hash. Up to the head as it is now: appends during a long export wait for the next one.
     */
    async export(q: AuditFilterQuery, by: Caller): Promise<AsyncIterable<string>> {
      const filter = toFilter(q, by);
      const { lastId } = await events.head();
      await deps.audit.record({
        type: 'admin.audit_events.exported',
        outcome: 'success',
        ...by,
        organizationId: by.organizationId,
        data: { filter: q, up_to_id: lastId },
      });
      return (async function* lines() {
        for await (const row of walk(filter, lastId)) yield `${JSON.stringify({ ...auditEventView(row), prev_hash: row.prevHash, hash: row.hash })}\n`;
      })();
    },
  };
}

export type AuditTrailService = ReturnType<typeof createAuditTrailService>;
