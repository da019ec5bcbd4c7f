import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { CamelCasePlugin, Kysely, Migrator, PostgresDialect, sql, type MigrationResultSet, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Database } from './database.js';
import { PGliteDialect } from './pglite-dialect.js';
import { ScopedIntrospector } from './scoped-introspector.js';

class ScopedPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>) {
    return new ScopedIntrospector(db);
  }
}

// bigint (count(*), bigserial) as number in both engines: PGlite already does, pg gives strings.
pg.types.setTypeParser(20, Number);

export type Db = Kysely<Database>;

const PREPARE_MARK = '/* prepared */';
/**
 * Ends a hot statement's text (a `sql` template): on PostgreSQL it is then sent as a named prepared
 * statement, parsed once per connection instead of at every call. A comment to PGlite. Only for
 * statements that name their result columns: PostgreSQL refuses to run a prepared `select *` once
 * a migration (from another node, during a rolling deploy) changed the table's columns.
 */
export const PREPARED = sql.raw(PREPARE_MARK);
const statementNames = new Map<string, string>();
const statementName = (text: string) => {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `prepared_${statementNames.size}`));
  return name;
};

/** The pool kysely sees: statements marked `PREPARED` go out named, the rest as they are. */
function preparingPool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      const query = (text: string, values: readonly unknown[]) =>
        text.endsWith(PREPARE_MARK) ? client.query({ name: statementName(text), text, values: [...values] }) : client.query(text, [...values]);
      return { query: query as unknown as PostgresPoolClient['query'], release: (destroy?: boolean) => client.release(destroy) };
    },
    end: () => pool.end(),
  };
}

export interface DbOptions {
  /** postgres:// URL; without it the embedded PGlite under `dataDir` is used. */
  databaseUrl?: string;
  dataDir: string;
  /** Confine every table to this schema (one per test file); created when missing. */
  schema?: string;
  poolSize?: number;
}

export interface DbHandle {
  db: Db;
  engine: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export async function openDatabase(opts: DbOptions): Promise<DbHandle> {
  // Nested keys stay as stored: JSON columns hold protocol metadata whose snake_case names matter.
  const plugins = [new CamelCasePlugin({ maintainNestedObjectKeys: true })];
  if (opts.databaseUrl) {
    if (opts.schema) {
      const admin = new pg.Client({ connectionString: opts.databaseUrl });
      await admin.connect();
      try {
        await admin.query(`create schema if not exists "${opts.schema}"`);
      } catch (err) {
        // Nodes booting together can all pass "if not exists"; the losers then hit the catalog's
        // unique index (23505). The schema exists either way.
        if ((err as { code?: unknown }).code !== '23505') throw err;
      } finally {
        await admin.end();
      }
    }
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 3000,
      idleTimeoutMillis: 30000,
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    // A dropped connection must not crash the process; the next query reports the outage.
    pool.on('error', () => {});
    // A connection dying mid-query emits 'error' on the client too; unheard, it would crash the process.
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
    const db = new Kysely<Database>({ dialect: new ScopedPostgresDialect({ pool: preparingPool(pool) }), plugins });
    return { db, engine: 'postgres', close: () => db.destroy() };
  }
  const inMemory = opts.dataDir === ':memory:';
  if (!inMemory) fs.mkdirSync(opts.dataDir, { recursive: true });
  const unlock = inMemory ? () => {} : lockDataDir(opts.dataDir);
  try {
    const pglite = await PGlite.create(inMemory ? undefined : `${opts.dataDir}/pglite`);
    if (opts.schema) await pglite.exec(`create schema if not exists "${opts.schema}"; set search_path to "${opts.schema}"`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), plugins });
    return {
      db,
      engine: 'pglite',
      close: async () => {
        try {
          await db.destroy();
        } finally {
          unlock();
        }
      },
    };
  } catch (err) {
    unlock();
    throw err;
  }
}

export async function migrateToLatest(db: Db, schema?: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error instanceof Error ? result.error : new Error('migration failed', { cause: result.error });
  return result;
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
