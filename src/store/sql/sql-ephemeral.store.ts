import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { EphemeralStore } from '../ephemeral-store.js';

const expiresIn = (sec: number) => new Date(Date.now() + sec * 1000);

export function createSqlEphemeralStore(db: Db): EphemeralStore {
  return {
    async get(key) {
      const row = await db.selectFrom('ephemeralEntries').select('value').where('key', '=', key).where('expiresAt', '>', new Date()).executeTakeFirst();
      return row?.value;
    },
    async set(key, value, ttlSec) {
      await db
        .insertInto('ephemeralEntries')
        .values({ key, value, expiresAt: expiresIn(ttlSec) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, expiresAt: expiresIn(ttlSec) }))
        .execute();
    },
    async take(key) {
      const row = await db.deleteFrom('ephemeralEntries').where('key', '=', key).returning(['value', 'expiresAt']).executeTakeFirst();
      return row && row.expiresAt > new Date() ? row.value : undefined;
    },
    async del(key) {
      await db.deleteFrom('ephemeralEntries').where('key', '=', key).execute();
    },
    async increment(key, windowSec) {
      // One statement: a row past its window restarts at 1, otherwise the count goes up atomically.
      const row = await db
        .insertInto('ephemeralEntries')
        .values({ key, value: '1', expiresAt: expiresIn(windowSec) })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            value: sql`case when ephemeral_entries.expires_at <= now() then '1' else (ephemeral_entries.value::int + 1)::text end`,
            expiresAt: sql`case when ephemeral_entries.expires_at <= now() then excluded.expires_at else ephemeral_entries.expires_at end`,
          }),
        )
        .returning('value')
        .executeTakeFirstOrThrow();
      return Number(row.value);
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
  };
}

/** Deletes expired short-lived rows; any node may run it, it is idempotent. */
export async function sweepExpired(db: Db): Promise<void> {
  await db.deleteFrom('ephemeralEntries').where('expiresAt', '<', new Date()).execute();
  await db.deleteFrom('oidcPayloads').where('expiresAt', '<', new Date()).execute();
  await db.deleteFrom('samlSessionParticipants').where('expiresAt', '<', new Date()).execute();
}
