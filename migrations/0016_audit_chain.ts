import { sql, type Kysely } from 'kysely';
import { chainHash, contentDigest, GENESIS_HASH } from '../src/lib/audit-chain.js';

const BATCH = 500;

/**
 * The audit trail becomes a hash chain (the form is in src/lib/audit-chain.ts): each row carries
 * the hash of the row before it and its own, so an edited, inserted or deleted row shows.
 *
 * The writer sends the digest of a row's content in `hash`; a trigger links it to the chain. The
 * trigger first locks the one row of `audit_chain_head`, so appenders from every connection and
 * node take turns until their insert commits, and only then draws the row's id: ids follow the
 * chain, and a multi-row insert costs no extra round trip. The same SQL runs on PGlite.
 *
 * Rows written before are chained here, in id order; their timestamps are cut to milliseconds,
 * the precision of the chain's (and JavaScript's) ISO form.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and must not depend on today's table types */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('prev_hash', 'text').addColumn('hash', 'text').execute();
  await db.schema
    .createTable('audit_chain_head')
    .addColumn('singleton', 'boolean', (c) =>
      c
        .primaryKey()
        .defaultTo(true)
        .check(sql`singleton`),
    )
    .addColumn('last_id', 'bigint', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();

  await sql`alter table audit_events disable trigger audit_events_no_change`.execute(db);
  await sql`update audit_events set at = date_trunc('milliseconds', at)`.execute(db);
  let prev = GENESIS_HASH;
  let prevOfLast = GENESIS_HASH;
  let lastId = 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_events')
      // camelCase: the application's Kysely maps names both ways, and the digest takes the row as read.
      .select(['id', 'at', 'type', 'outcome', 'actor', 'subject', 'organizationId', 'ip', 'requestId', 'clientId', 'data'])
      .where('id', '>', lastId)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (!rows.length) break;
    const ids: number[] = [];
    const prevs: string[] = [];
    const hashes: string[] = [];
    for (const row of rows) {
      const hash = chainHash(prev, contentDigest(row));
      ids.push(Number(row.id));
      prevs.push(prev);
      prevOfLast = prev;
      hashes.push(hash);
      prev = hash;
    }
    lastId = ids[ids.length - 1]!;
    await sql`update audit_events as e set prev_hash = v.prev_hash, hash = v.hash
      from unnest(${ids}::bigint[], ${prevs}::text[], ${hashes}::text[]) as v(id, prev_hash, hash) where e.id = v.id`.execute(db);
  }
  await sql`alter table audit_events enable trigger audit_events_no_change`.execute(db);
  await db.insertInto('audit_chain_head').values({ last_id: lastId, prev_hash: prevOfLast, hash: prev }).execute();

  await sql`alter table audit_events alter column prev_hash set not null, alter column hash set not null, alter column id drop default`.execute(db);
  // One statement per row: the update locks the head until the insert commits, draws the id,
  // and links the digest; `prev_hash` keeps the link it replaced, which the row needs.
  await sql`create function audit_events_chain() returns trigger language plpgsql as $$
    begin
      if NEW.hash is null or NEW.hash !~ '^[0-9a-f]{64}$' then
        raise exception 'audit_events rows are appended with the SHA-256 digest of their content in hash';
      end if;
      update audit_chain_head
        set prev_hash = hash, hash = encode(sha256(convert_to(hash || NEW.hash, 'UTF8')), 'hex'), last_id = nextval('audit_events_id_seq')
        returning prev_hash, hash, last_id into strict NEW.prev_hash, NEW.hash, NEW.id;
      return NEW;
    end $$`.execute(db);
  await sql`create trigger audit_events_chain before insert on audit_events for each row execute function audit_events_chain()`.execute(db);

  // The audit API filters by organisation and time and pages by id.
  await sql`create index audit_events_organization on audit_events (organization_id, id)`.execute(db);
  await sql`create index audit_events_at on audit_events (at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists audit_events_chain on audit_events`.execute(db);
  await sql`drop function if exists audit_events_chain()`.execute(db);
  await sql`drop index if exists audit_events_organization`.execute(db);
  await sql`drop index if exists audit_events_at`.execute(db);
  await sql`alter table audit_events alter column id set default nextval(pg_get_serial_sequence('audit_events', 'id'))`.execute(db);
  await db.schema.dropTable('audit_chain_head').ifExists().execute();
  await db.schema.alterTable('audit_events').dropColumn('prev_hash').dropColumn('hash').execute();
}
