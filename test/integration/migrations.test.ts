import { sql } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { migrateToLatest, openDatabase, type DbHandle } from '../../src/store/db.js';
import { DATABASE_URL, dropSchema, uniqueName } from '../helpers/env.js';

const TABLES = ['api_keys', 'audit_events', 'clients', 'ephemeral_entries', 'oidc_payloads', 'organizations', 'signing_keys', 'users'];

interface Engine {
  open(): Promise<DbHandle>;
  schema?: string;
  cleanup(): Promise<void>;
}

const pgSchema = uniqueName('migrations');
const engines: [string, Engine][] = [
  [
    'PostgreSQL (fresh schema)',
    {
      schema: pgSchema,
      open: () => openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema: pgSchema }),
      cleanup: () => dropSchema(pgSchema),
    },
  ],
  ['PGlite (in memory)', { open: () => openDatabase({ dataDir: ':memory:' }), cleanup: async () => {} }],
];

describe.each(engines)('migrations on %s', (_name, engine) => {
  let h: DbHandle;
  beforeAll(async () => {
    h = await engine.open();
  }, 30_000);
  afterAll(async () => {
    await h?.close();
    await engine.cleanup();
  });

  const tablesHere = async () => {
    const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(h.db);
    return rows.map((r) => r.name);
  };

  test('from empty: migrateToLatest applies every migration and creates all tables', async () => {
    expect(await tablesHere()).toEqual([]);
    const result = await migrateToLatest(h.db, engine.schema);
    expect(result.results?.map((r) => [r.migrationName, r.status])).toEqual(Object.keys(migrations).map((m) => [m, 'Success']));
    const tables = await tablesHere();
    expect(tables).toEqual(expect.arrayContaining([...TABLES, 'kysely_migration', 'kysely_migration_lock']));
    if (engine.schema) {
      // Confined to the schema: nothing of ours landed in public.
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables
        where table_schema = 'public' and table_name = 'kysely_migration'`.execute(h.db);
      expect(rows[0]!.n).toBe(0);
      expect(await sql<{ s: string }>`select current_schema() as s`.execute(h.db).then((r) => r.rows[0]!.s)).toBe(engine.schema);
    }
  });

  test('running again is a no-op: nothing applied, tables and seed rows unchanged', async () => {
    const before = await tablesHere();
    const result = await migrateToLatest(h.db, engine.schema);
    expect(result.error).toBeUndefined();
    expect(result.results).toEqual([]);
    expect(await tablesHere()).toEqual(before);
    const orgs = await h.db.selectFrom('organizations').select('slug').execute();
    expect(orgs).toEqual([{ slug: 'default' }]);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(h.db);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
  });

  test('audit_events is append-only: insert works, update and delete raise an error', async () => {
    const row = await h.db
      .insertInto('auditEvents')
      .values({ type: 'login', outcome: 'success', actor: 'alice', data: JSON.stringify({ ip: '127.0.0.1' }), hash: 'a'.repeat(64) })
      .returning(['id', 'outcome'])
      .executeTakeFirstOrThrow();
    expect(row.outcome).toBe('success');

    await expect(h.db.updateTable('auditEvents').set({ outcome: 'failure' }).where('id', '=', row.id).execute()).rejects.toThrow(/append-only/);
    await expect(h.db.deleteFrom('auditEvents').where('id', '=', row.id).execute()).rejects.toThrow(/append-only/);
    await expect(sql`update audit_events set data = '{}'::jsonb`.execute(h.db)).rejects.toThrow(/append-only/);

    const after = await h.db.selectFrom('auditEvents').select(['id', 'outcome', 'actor']).where('id', '=', row.id).execute();
    expect(after).toEqual([{ id: row.id, outcome: 'success', actor: 'alice' }]);
  });

  test('the schema enforces its constraints (unique lower(username), status check)', async () => {
    const org = await h.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow();
    await h.db.insertInto('users').values({ externalId: 'e-1', username: 'Bob', organizationId: org.id, roles: [] }).execute();
    await expect(h.db.insertInto('users').values({ externalId: 'e-2', username: 'bob', organizationId: org.id, roles: [] }).execute()).rejects.toMatchObject({
      code: '23505',
    });
    await expect(sql`insert into users (external_id, organization_id, status) values ('e-3', ${org.id}, 'weird')`.execute(h.db)).rejects.toMatchObject({
      code: '23514',
    });
  });
});

describe('several nodes booting together on a new PostgreSQL schema', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
  });

  test('concurrent open + migrate all succeed and apply each migration exactly once', async () => {
    for (let round = 0; round < 3; round++) {
      const schema = uniqueName('migrate-race');
      schemas.push(schema);
      const opened = await Promise.allSettled(
        Array.from({ length: 4 }, () => openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema, poolSize: 2 })),
      );
      const handles = opened.filter((r): r is PromiseFulfilledResult<DbHandle> => r.status === 'fulfilled').map((r) => r.value);
      try {
        expect(opened.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual([]);
        const results = await Promise.all(handles.map((h) => migrateToLatest(h.db, schema)));
        const applied = results
          .flatMap((r) => r.results ?? [])
          .filter((r) => r.status === 'Success')
          .map((r) => r.migrationName);
        expect(applied.sort()).toEqual(Object.keys(migrations).sort());
        expect(await handles[0]!.db.selectFrom('organizations').select('slug').execute()).toEqual([{ slug: 'default' }]);
      } finally {
        for (const h of handles) await h.close();
      }
    }
  });
});
