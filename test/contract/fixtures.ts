import type { EphemeralStore, OidcPayloadStore } from '../../src/store/ephemeral-store.js';
import { migrateToLatest, openDatabase, type DbHandle } from '../../src/store/db.js';
import { connectRedis, type RedisClient } from '../../src/store/redis/client.js';
import { createRedisEphemeralStore } from '../../src/store/redis/redis-ephemeral.store.js';
import { createRedisOidcStore } from '../../src/store/redis/redis-oidc.store.js';
import { createClientRepository, type ClientRecord, type ClientRepository } from '../../src/store/repositories/client.repository.js';
import { createSqlEphemeralStore } from '../../src/store/sql/sql-ephemeral.store.js';
import { createSqlOidcStore } from '../../src/store/sql/sql-oidc.store.js';
import { DATABASE_URL, REDIS_URL, dropSchema, uniqueName } from '../helpers/env.js';
import { oidcRowsAsText, redisKeysAsText } from '../helpers/at-rest.js';
import { deleteKeysWithPrefix } from '../helpers/redis-cluster.js';

export interface StoreInstance {
  oidc: OidcPayloadStore;
  ephemeral: EphemeralStore;
}

/** One engine under test, isolated (own schema, key prefix or in-memory database). */
export interface StoreFixture extends StoreInstance {
  engine: 'redis' | 'postgres' | 'pglite';
  /** More instances over their own connections to the same data: races then span connections. */
  peers: StoreInstance[];
  /** Backs the adapter's Client model (the real repository on SQL, a map for Redis). */
  clients: ClientRepository;
  addClient(record: Omit<ClientRecord, 'organizationId'>): Promise<void>;
  /** All that the engine holds for this fixture, as text (keys, ids, payloads, indexes). */
  storedText(): Promise<string>;
  close(): Promise<void>;
}

/** Redis: three connections sharing a key prefix unique to this file. */
export async function makeRedisFixture(label: string): Promise<StoreFixture> {
  const prefix = `${uniqueName(label)}:`;
  const conns: RedisClient[] = [];
  for (let i = 0; i < 3; i++) conns.push(await connectRedis({ url: REDIS_URL, keyPrefix: prefix }));
  const [main, ...rest] = conns.map((c) => ({ oidc: createRedisOidcStore(c), ephemeral: createRedisEphemeralStore(c) }));
  const clientMap = new Map<string, ClientRecord>();
  const clients = {
    find: async (id: string) => clientMap.get(id),
    insert: async (c: ClientRecord) => {
      clientMap.set(c.clientId, c);
      return true;
    },
  } as unknown as ClientRepository;
  return {
    engine: 'redis',
    ...main!,
    peers: rest,
    clients,
    async addClient(record) {
      clientMap.set(record.clientId, { ...record, organizationId: 'none' });
    },
    storedText: () => redisKeysAsText(prefix),
    async close() {
      conns.forEach((c) => c.disconnect());
      await deleteKeysWithPrefix(prefix);
    },
  };
}

async function sqlFixture(engine: 'postgres' | 'pglite', handles: DbHandle[], cleanup: () => Promise<void>): Promise<StoreFixture> {
  const [first, ...others] = handles;
  const { db } = first!;
  const clients = createClientRepository(db);
  const org = await db.selectFrom('organizations').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow();
  return {
    engine,
    oidc: createSqlOidcStore(db),
    ephemeral: createSqlEphemeralStore(db),
    peers: others.map((h) => ({ oidc: createSqlOidcStore(h.db), ephemeral: createSqlEphemeralStore(h.db) })),
    clients,
    async addClient(record) {
      if (!(await clients.insert({ ...record, organizationId: org.id }))) throw new Error('client exists');
    },
    storedText: () => oidcRowsAsText(db),
    async close() {
      for (const h of handles) await h.close();
      await cleanup();
    },
  };
}

/** PostgreSQL: a fresh schema, migrated, and two pools (so up to 20 connections race). */
export async function makePostgresFixture(label: string): Promise<StoreFixture> {
  const schema = uniqueName(label);
  const a = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema });
  await migrateToLatest(a.db, schema);
  const b = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: ':memory:', schema });
  return sqlFixture('postgres', [a, b], () => dropSchema(schema));
}

/** PGlite in memory: one connection by nature, so no peers. */
export async function makePgliteFixture(): Promise<StoreFixture> {
  const h = await openDatabase({ dataDir: ':memory:' });
  await migrateToLatest(h.db);
  return sqlFixture('pglite', [h], async () => {});
}
