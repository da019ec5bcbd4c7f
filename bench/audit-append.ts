/**
 * Time of 1000 audit appends (one event each, as a request with one event stores them), one after
 * another and 20 at a time, on PostgreSQL and on the embedded PGlite: what the hash chain costs.
 *   npx tsx bench/audit-append.ts
 */
import pg from 'pg';
import { migrateToLatest, openDatabase, type DbHandle } from '../src/store/db.js';
import { createAuditEventRepository } from '../src/store/repositories/audit-event.repository.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = 1000;

async function time(label: string, handle: DbHandle, schema: string | undefined, concurrency: number): Promise<void> {
  await migrateToLatest(handle.db, schema);
  const repo = createAuditEventRepository(handle.db);
  const event = (i: number) => ({ type: 'bench.append', outcome: 'success' as const, subject: `user-${i}`, ip: '127.0.0.1', data: { i, reason: 'bench' } });
  for (let i = 0; i < 50; i++) await repo.append([event(i)]);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < N) await repo.append([event(next++)]);
    }),
  );
  console.log(`${label}, ${concurrency} at a time: ${N} appends in ${(performance.now() - started).toFixed(0)} ms`);
}

for (const concurrency of [1, 20]) {
  const schema = `bench_audit_${process.pid}_${concurrency}`;
  const pgHandle = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema });
  try {
    await time('PostgreSQL', pgHandle, schema, concurrency);
  } finally {
    await pgHandle.close();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.end();
  }
  const lite = await openDatabase({ dataDir: ':memory:' });
  try {
    await time('PGlite', lite, undefined, concurrency);
  } finally {
    await lite.close();
  }
}
