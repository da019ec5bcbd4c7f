/**
 * The audit trail as evidence: one hash chain however many nodes append at once, any edit,
 * deletion or insertion made behind the application's back found by the verify endpoint, and an
 * API to read it (filters, cursor pages, organisation scoping) and export it as JSON lines that a
 * verifier outside the IdP re-checks. The chain form is recomputed here independently.
 */
import crypto from 'node:crypto';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { runInRequestScope } from '../../src/lib/request-scope.js';
import { migrateToLatest, openDatabase, type DbHandle } from '../../src/store/db.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { Browser } from '../helpers/browser.js';
import { DATABASE_URL, dropSchema, startTestIdp, uniqueName, type TestIdp } from '../helpers/env.js';
import { PASSWORD, beginAuth, newUser } from '../helpers/mfa-flow.js';
import { roundRobin } from '../helpers/processes.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';
import { oc, registerClient } from '../helpers/rp.js';

let a: TestIdp;
let b: TestIdp;
let config: oc.Configuration;
let lb: ReturnType<typeof roundRobin>;
const apiA = apiClient(() => a.url);
const apiB = apiClient(() => b.url);

// ---- An independent verifier: what someone holding only the export would write. ----
const sha = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
const canonical = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(',')}]`
    : v !== null && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v);
interface Line {
  id: number;
  at: string;
  type: string;
  outcome: string;
  actor: string | null;
  subject: string | null;
  organization_id: string | null;
  ip: string | null;
  request_id: string | null;
  client_id: string | null;
  data: unknown;
  prev_hash: string;
  hash: string;
}
const lineHash = (l: Line) =>
  sha(l.prev_hash + sha(canonical(['audit-event/1', l.at, l.type, l.outcome, l.actor, l.subject, l.organization_id, l.ip, l.request_id, l.client_id, l.data])));
/** The id of the first line that does not chain, or null when all do. */
function firstUnchained(lines: Line[]): number | null {
  let prev = '0'.repeat(64);
  for (const l of lines) {
    if (l.prev_hash !== prev || l.hash !== lineHash(l)) return l.id;
    prev = l.hash;
  }
  return null;
}

// ---- Someone with direct database access, bypassing the application and its triggers. ----
async function behindTheBack<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${a.name}` });
  await c.connect();
  try {
    await c.query(`set session_replication_role = replica`);
    return await fn(c);
  } finally {
    await c.end();
  }
}
const COLUMNS = 'id, at, type, outcome, actor, subject, organization_id, ip, request_id, client_id, data, prev_hash, hash';
const rowById = async (id: number) => behindTheBack(async (c) => (await c.query(`select ${COLUMNS} from audit_events where id = $1`, [id])).rows[0]);
const reinsert = (row: Record<string, unknown>) =>
  behindTheBack((c) =>
    c.query(`insert into audit_events (${COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, [
      row.id,
      row.at,
      row.type,
      row.outcome,
      row.actor,
      row.subject,
      row.organization_id,
      row.ip,
      row.request_id,
      row.client_id,
      JSON.stringify(row.data),
      row.prev_hash,
      row.hash,
    ]),
  );
const allIds = async () => (await a.container.db.selectFrom('auditEvents').select('id').orderBy('id').execute()).map((r) => r.id);
const verify = async () => {
  const r = await apiB('GET', '/audit-events/verify');
  expect(r.status).toBe(200);
  return r.body as { valid: boolean; checked: number; first_broken_id?: number };
};

async function login(username: string, password: string) {
  const flow = await beginAuth(config, { browser: new Browser(lb.rewrite) });
  return flow.post('login', { username, password });
}

beforeAll(async () => {
  a = await startTestIdp('audit-trail-a', 'postgres+redis', { rateLimit: { loginPerIpPerMinute: 10_000 } });
  b = await startTestIdp('audit-trail-b', 'postgres+redis', {
    databaseSchema: a.name,
    redisKeyPrefix: `${a.name}:`,
    issuer: a.url,
    rateLimit: { loginPerIpPerMinute: 10_000 },
  });
  const client = await registerClient(b.url, { first_party: true });
  lb = roundRobin([a.port, b.port]);
  config = await oc.discovery(new URL(a.url), client.client_id, client.client_secret, undefined, {
    execute: [oc.allowInsecureRequests],
    [oc.customFetch]: lb.customFetch,
  });
  config[oc.customFetch] = lb.customFetch;
}, 30_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  if (a) await deleteKeysWithPrefix(`${a.name}:`);
});

describe('the chain', () => {
  test('a burst of concurrent logins and admin changes on two nodes leaves one valid chain, ids in chain order', async () => {
    const users = await Promise.all([0, 1, 2, 3].map((i) => newUser(i % 2 ? a.url : b.url, `burst${i}`)));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const u = users[i % users.length]!;
      work.push(login(u.username, i % 3 ? PASSWORD : 'wrong password'));
      if (i % 4 === 0) work.push((i % 8 ? apiA : apiB)('PATCH', '/settings', { lockout: { max_failures: 20 + i } }));
      if (i % 6 === 0) work.push(newUser(i % 12 ? b.url : a.url, `burst-new${i}`));
    }
    await Promise.all(work);

    const rows = await a.container.db.selectFrom('auditEvents').select(['id', 'prevHash', 'hash', 'type']).orderBy('id').execute();
    expect(rows.filter((r) => r.type.startsWith('authn.login.')).length).toBeGreaterThanOrEqual(24);
    expect(rows.filter((r) => r.type === 'admin.settings.updated').length).toBeGreaterThanOrEqual(6);
    // One line: each row names the one before it (by id) as its predecessor.
    rows.forEach((r, i) => expect(r.prevHash).toBe(i ? rows[i - 1]!.hash : '0'.repeat(64)));
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    const head = await a.container.db.selectFrom('auditChainHead').selectAll().executeTakeFirstOrThrow();
    expect(head).toMatchObject({ lastId: rows[rows.length - 1]!.id, hash: rows[rows.length - 1]!.hash });

    const result = await verify();
    expect(result).toEqual({ valid: true, checked: expect.any(Number) });
    expect(result.checked).toBeGreaterThanOrEqual(rows.length);
  }, 60_000);

  test('a row edited in the database is found by id; put back, the chain is valid again', async () => {
    const victim = await a.container.db.selectFrom('auditEvents').select('id').where('type', '=', 'authn.login.failed').orderBy('id').executeTakeFirstOrThrow();
    const original = await rowById(victim.id);
    await behindTheBack((c) => c.query(`update audit_events set data = '{"reason":"nothing to see"}'::jsonb where id = $1`, [victim.id]));
    expect(await verify()).toEqual({ valid: false, checked: expect.any(Number), first_broken_id: victim.id });

    // Another field, with the row's own hash recomputed to match: then the next row's link breaks.
    const forged = { ...original, at: original.at.toISOString(), outcome: 'success' } as Line;
    await behindTheBack((c) =>
      c.query(`update audit_events set data = $2::jsonb, outcome = $3, hash = $4 where id = $1`, [
        victim.id,
        JSON.stringify(original.data),
        forged.outcome,
        lineHash(forged),
      ]),
    );
    const ids = await allIds();
    expect((await verify()).first_broken_id).toBe(ids[ids.indexOf(victim.id) + 1]);

    await behindTheBack((c) => c.query(`update audit_events set outcome = $2, hash = $3 where id = $1`, [victim.id, original.outcome, original.hash]));
    expect((await verify()).valid).toBe(true);
  });

  test('a deleted row is found (in the middle: at the row after it; at the end: through the head)', async () => {
    const ids = await allIds();
    const middle = ids[Math.floor(ids.length / 2)]!;
    const saved = await rowById(middle);
    await behindTheBack((c) => c.query(`delete from audit_events where id = $1`, [middle]));
    expect(await verify()).toEqual({ valid: false, checked: expect.any(Number), first_broken_id: ids[ids.indexOf(middle) + 1] });
    await reinsert(saved);
    expect((await verify()).valid).toBe(true);

    // The last row: no row after it to notice, but the head still names it. Checked without a
    // request, so that no new event lands after the gap while it is open.
    const last = (await allIds()).pop()!;
    const lastRow = await rowById(last);
    await behindTheBack((c) => c.query(`delete from audit_events where id = $1`, [last]));
    expect(await a.container.auditTrail.verify({ organizationId: null })).toEqual({ valid: false, checked: expect.any(Number), first_broken_id: last });
    await reinsert(lastRow);
    expect((await verify()).valid).toBe(true);
  });

  test('an inserted row is found, even one that links to the last row with correct hashes', async () => {
    const head = await a.container.db.selectFrom('auditChainHead').selectAll().executeTakeFirstOrThrow();
    const forged: Line = {
      id: head.lastId + 1000,
      at: new Date().toISOString(),
      type: 'admin.user.deleted',
      outcome: 'success',
      actor: 'apikey:somebody',
      subject: 'someone',
      organization_id: null,
      ip: '127.0.0.1',
      request_id: null,
      client_id: null,
      data: {},
      prev_hash: head.hash,
      hash: '',
    };
    forged.hash = lineHash(forged);
    await reinsert(forged as unknown as Record<string, unknown>);
    expect((await verify()).first_broken_id).toBe(forged.id);
    await behindTheBack((c) => c.query(`delete from audit_events where id = $1`, [forged.id]));
    expect((await verify()).valid).toBe(true);

    // Into the middle: between two existing rows (their ids made room for it by hand).
    const ids = await allIds();
    const before = ids[1]!;
    const after = await rowById(ids[2]!);
    await behindTheBack((c) => c.query(`delete from audit_events where id = $1`, [after.id]));
    const intruder = { ...(await rowById(before)), id: after.id, subject: 'intruder' };
    await reinsert(intruder);
    expect((await verify()).first_broken_id).toBe(after.id);
    await behindTheBack((c) => c.query(`delete from audit_events where id = $1`, [after.id]));
    await reinsert(after);
    expect((await verify()).valid).toBe(true);
  });

  test('the export streams every event as a JSON line that an outside verifier re-checks', async () => {
    expectJsonError(await apiA('GET', '/audit-events/export', undefined, null), 401, 'invalid_token');
    const r = await apiA('GET', '/audit-events/export');
    expect(r.status).toBe(200);
    expect(r.res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(r.text.endsWith('\n')).toBe(true);
    const lines = r.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => l.id)).toEqual((await allIds()).filter((id) => id <= lines[lines.length - 1]!.id));
    expect(firstUnchained(lines)).toBeNull();
    // The outside verifier is not fooled either: an edited line breaks there.
    const edited = lines.map((l) => ({ ...l }));
    edited[3]!.data = { ...(edited[3]!.data as object), extra: 1 };
    expect(firstUnchained(edited)).toBe(edited[3]!.id);
    // The export itself is audited.
    const exported = await a.container.db.selectFrom('auditEvents').selectAll().where('type', '=', 'admin.audit_events.exported').execute();
    expect(exported.length).toBeGreaterThanOrEqual(1);

    const filtered = await apiA('GET', '/audit-events/export?type=authn.*&outcome=failure');
    const some = filtered.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(some.length).toBeGreaterThan(0);
    for (const l of some) {
      expect(l).toMatchObject({ type: expect.stringMatching(/^authn\./), outcome: 'failure' });
      expect(l.hash).toBe(lineHash(l));
    }
  });
});

describe('reading the trail', () => {
  test('cursor pages cover every event once, in id order, while events are being appended', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await apiA('GET', `/audit-events?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.events.map((e: { id: number }) => e.id));
      cursor = r.body.next_cursor;
      // Appends between pages join the end; the pages already read do not shift.
      if (pages++ === 1) await newUser(b.url, 'between-pages');
    } while (cursor);
    expect(pages).toBeGreaterThan(3);
    expect(seen).toEqual(await allIds().then((ids) => ids.filter((id) => id <= seen[seen.length - 1]!)));
    expect(new Set(seen).size).toBe(seen.length);

    const first = await apiA('GET', '/audit-events');
    expect(first.body.events).toHaveLength(Math.min(100, seen.length));
    expect(Object.keys(first.body.events[0]).sort()).toEqual(
      ['actor', 'at', 'client_id', 'data', 'id', 'ip', 'organization_id', 'outcome', 'request_id', 'subject', 'type'].sort(),
    );
  });

  test('filters: exact type, type prefix, subject, actor, client, outcome, time window', async () => {
    const user = await newUser(a.url, 'filters');
    await login(user.username, 'wrong password');
    await login(user.username, 'wrong password again');
    const all = (await a.container.db.selectFrom('auditEvents').selectAll().orderBy('id').execute()).map((e) => ({ ...e, at: e.at.toISOString() }));
    const list = async (query: string) => {
      const r = await apiB('GET', `/audit-events?limit=500&${query}`);
      expect(r.status).toBe(200);
      return (r.body.events as { id: number }[]).map((e) => e.id);
    };
    const ids = (pred: (e: (typeof all)[number]) => boolean) => all.filter(pred).map((e) => e.id);

    expect(await list('type=authn.login.failed')).toEqual(ids((e) => e.type === 'authn.login.failed'));
    const authn = await list('type=authn.*');
    expect(authn).toEqual(ids((e) => e.type.startsWith('authn.')));
    expect(authn.length).toBeGreaterThan(ids((e) => e.type === 'authn.login.failed').length);
    expect(await list('type=authn_login.*')).toEqual([]);
    expect(await list(`subject=${user.id}`)).toEqual(ids((e) => e.subject === user.id));
    expect(await list(`subject=${user.id}&outcome=failure`)).toEqual(ids((e) => e.subject === user.id && e.outcome === 'failure'));
    const actor = all.find((e) => e.actor?.startsWith('apikey:'))!.actor!;
    expect(await list(`actor=${encodeURIComponent(actor)}`)).toEqual(ids((e) => e.actor === actor));
    const clientId = all.find((e) => e.clientId)!.clientId!;
    expect(await list(`client_id=${encodeURIComponent(clientId)}`)).toEqual(ids((e) => e.clientId === clientId));
    const mid = all[Math.floor(all.length / 2)]!.at;
    const last = all[all.length - 1]!.at;
    expect(await list(`from=${mid}&to=${last}`)).toEqual(ids((e) => e.at >= mid && e.at < last));
    expect(await list(`from=${encodeURIComponent(mid.replace('Z', '+00:00'))}`)).toEqual(ids((e) => e.at >= mid));
  });

  test("an organisation's key reads only its organisation's events; it cannot verify the whole trail", async () => {
    const [acme, globex] = await Promise.all(
      ['acme', 'globex'].map(async (slug) => (await apiA('POST', '/organizations', { slug })).body.organization.id as string),
    );
    const orgIds = { acme: acme!, globex: globex! };
    const { key: acmeReader } = await a.container.apiKeys.create('acme-reader', ['idp:read'], orgIds.acme);
    const { key: acmeAdmin } = await a.container.apiKeys.create('acme-admin', ['admin'], orgIds.acme);
    const acmeUser = await newUser(a.url, 'acme-member', { organization: 'acme' });
    const globexUser = await newUser(a.url, 'globex-member', { organization: 'globex' });

    const r = await apiA('GET', '/audit-events?limit=500', undefined, acmeReader);
    expect(r.status).toBe(200);
    expect(r.body.events.length).toBeGreaterThan(0);
    for (const e of r.body.events) expect(e.organization_id).toBe(orgIds.acme);
    expect(r.body.events.map((e: { subject: string }) => e.subject)).toContain(acmeUser.id);
    expect((await apiA('GET', `/audit-events?subject=${globexUser.id}`, undefined, acmeReader)).body.events).toEqual([]);
    expect((await apiA('GET', `/audit-events?subject=${globexUser.id}`)).body.events.length).toBeGreaterThan(0);

    const exported = await apiA('GET', '/audit-events/export', undefined, acmeAdmin);
    const lines = exported.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.organization_id).toBe(orgIds.acme);

    expectJsonError(await apiA('GET', '/audit-events/verify', undefined, acmeAdmin), 403, 'insufficient_scope');
    expectJsonError(await apiA('GET', '/audit-events/verify', undefined, acmeReader), 403, 'insufficient_scope');
    expectJsonError(await apiA('GET', '/audit-events/export', undefined, acmeReader), 403, 'insufficient_scope');
  });

  test('hostile query parameters are refused with 400 JSON, never a 500', async () => {
    const bad = [
      ['limit=1e9', 'limit'],
      ['limit=0', 'limit'],
      ['limit=-5', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=many', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('after:-1').toString('base64url')}`, 'cursor'],
      [`cursor=${Buffer.from('after:99999999999999999999').toString('base64url')}`, 'cursor'],
      ['cursor=%00', 'cursor'],
      ['from=yesterday', 'from'],
      ['to=2026-13-45T00:00:00Z', 'to'],
      ['from=2026-01-01T00:00:00', 'from'],
      ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['type=%25', 'type'],
      ['type=authn.*.*', 'type'],
      ['type=a&type=b', 'type'],
      ['outcome=maybe', 'outcome'],
      [`subject=${'x'.repeat(600)}`, 'subject'],
      ['actor=a%00b', 'actor'],
      ['sort=id', ''],
    ] as const;
    for (const [query, field] of bad) {
      for (const path of ['/audit-events', '/audit-events/export']) {
        if (path.endsWith('export') && /^(limit|cursor)=/.test(query)) continue;
        const r = await apiA('GET', `${path}?${query}`);
        expectJsonError(r, 400, 'invalid_request', field || undefined);
      }
    }
  });
});

describe('API keys in the trail', () => {
  test("a key's use is recorded once a minute however often it is used, and names the key as actor", async () => {
    const { key, row } = await a.container.apiKeys.create('reporting', ['idp:read']);
    // First uses at once on both nodes: each finds "last used" stale, one of them records.
    const first = await Promise.all([apiA, apiB, apiA, apiB, apiA, apiB].map((api) => api('GET', '/clients', undefined, key)));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (let i = 0; i < 4; i++) expect((await (i % 2 ? apiA : apiB)('GET', '/audit-events?limit=1', undefined, key)).status).toBe(200);
    const used = await a.container.db.selectFrom('auditEvents').selectAll().where('type', '=', 'admin.api_key.used').where('subject', '=', row.id).execute();
    expect(used).toHaveLength(1);
    expect(used[0]).toMatchObject({ actor: `apikey:${row.prefix}`, outcome: 'success', data: { name: 'reporting' } });
  });

  test('every event of a change made with a key names the key', async () => {
    const { key, row } = await a.container.apiKeys.create('writer', ['admin']);
    const user = await newUser(a.url, 'keyed');
    const r = await apiA('POST', `/users/backup-codes?externalUserId=${encodeURIComponent(`ext-${user.username}`)}`, undefined, key);
    expect(r.status).toBe(200);
    const events = await a.container.db.selectFrom('auditEvents').selectAll().where('requestId', '=', r.res.headers.get('x-request-id')).execute();
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.actor).toBe(`apikey:${row.prefix}`);
  });

  test("inside a key's request, an event recorded without an actor gets the key's; one that names its own keeps it", async () => {
    await runInRequestScope({ requestId: 'scope-actor', actor: 'apikey:scoped' }, async () => {
      await a.container.audit.record({ type: 'test.unnamed', outcome: 'success' });
      await a.container.audit.record({ type: 'test.named', outcome: 'success', actor: 'user:someone' });
    });
    const rows = await a.container.db.selectFrom('auditEvents').select(['type', 'actor']).where('requestId', '=', 'scope-actor').orderBy('id').execute();
    expect(rows).toEqual([
      { type: 'test.unnamed', actor: 'apikey:scoped' },
      { type: 'test.named', actor: 'user:someone' },
    ]);
    expect((await verify()).valid).toBe(true);
  });
});

describe('migrating a trail written before the chain', () => {
  const engines: [string, () => Promise<{ h: DbHandle; schema?: string; cleanup: () => Promise<void> }>][] = [
    [
      'PostgreSQL',
      async () => {
        const schema = uniqueName('audit-migrate');
        const h = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema });
        return { h, schema, cleanup: () => dropSchema(schema) };
      },
    ],
    ['PGlite', async () => ({ h: await openDatabase({ dataDir: ':memory:' }), cleanup: async () => {} })],
  ];

  test.each(engines)(
    'on %s: existing rows are chained, and appends from several writers at once extend the chain',
    async (_name, open) => {
      const { h, schema, cleanup } = await open();
      try {
        const migrator = new Migrator({ db: h.db, provider: { getMigrations: async () => migrations }, ...(schema ? { migrationTableSchema: schema } : {}) });
        expect((await migrator.migrateTo('0015_api_key_expiry')).error).toBeUndefined();
        for (let i = 0; i < 3; i++) {
          await sql`insert into audit_events (at, type, outcome, actor, data)
          values (now() - make_interval(secs => ${3 - i}::float8 + 0.123456), 'legacy.event', 'success', ${`actor-${i}`}, ${JSON.stringify({ n: i, nested: { z: 1, a: [1.5, 'x'] } })}::jsonb)`.execute(
            h.db,
          );
        }
        await migrateToLatest(h.db, schema);

        const container = { organizationId: null };
        const { createAuditEventRepository } = await import('../../src/store/repositories/audit-event.repository.js');
        const { createAuditTrailService } = await import('../../src/admin/audit-trail.service.js');
        const events = createAuditEventRepository(h.db);
        const trail = createAuditTrailService({ events, audit: { record: async () => {} } });
        expect(await trail.verify(container)).toEqual({ valid: true, checked: 3 });

        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            events.append([
              { type: 'new.event', outcome: 'success', subject: `s${i}`, data: { i, when: new Date(0) } },
              { type: 'new.event', outcome: 'failure', subject: `s${i}` },
            ]),
          ),
        );
        expect(await trail.verify(container)).toEqual({ valid: true, checked: 43 });
        // An insert that does not go through the application (no content digest) is refused.
        await expect(sql`insert into audit_events (type, outcome) values ('sneaky', 'success')`.execute(h.db)).rejects.toThrow(/digest/);
      } finally {
        await h.close();
        await cleanup();
      }
    },
    30_000,
  );
});
