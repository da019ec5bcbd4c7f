import { sql } from 'kysely';
import type { Db } from '../db.js';
import type { SessionRecordRow, SessionRecordsTable } from '../database.js';
import type { Insertable } from 'kysely';

export type NewSessionRecord = Insertable<SessionRecordsTable>;

/**
 * The IdP's record of each SSO session (see migration 0019). A record is live while the provider
 * still holds the session it names and neither its absolute end nor its idle limit has passed.
 */
export function createSessionRecordRepository(db: Db) {
  const live = (now: Date) =>
    sql<boolean>`(r.ends_at > ${now} and r.last_active_at + make_interval(secs => r.idle_seconds) > ${now}
      and exists (select 1 from oidc_payloads p where p.model = 'Session' and p.uid = r.session_uid
        and (p.expires_at is null or p.expires_at > ${now})))`;

  return {
    /** Records a signed-in session; signing in again on the same session (a step-up, a new authentication) updates it but keeps when it began. */
    async upsert(record: NewSessionRecord): Promise<SessionRecordRow> {
      return db
        .insertInto('sessionRecords')
        .values(record)
        .onConflict((oc) =>
          oc.column('sessionUid').doUpdateSet((eb) => ({
            lastActiveAt: eb.ref('excluded.lastActiveAt'),
            authTime: eb.ref('excluded.authTime'),
            endsAt: eb.ref('excluded.endsAt'),
            idleSeconds: eb.ref('excluded.idleSeconds'),
            rememberMe: eb.ref('excluded.rememberMe'),
            ip: eb.ref('excluded.ip'),
            userAgent: eb.ref('excluded.userAgent'),
            uaFamily: eb.ref('excluded.uaFamily'),
            deviceKey: eb.ref('excluded.deviceKey'),
            acr: eb.ref('excluded.acr'),
            amr: eb.ref('excluded.amr'),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    findByUid: (sessionUid: string) => db.selectFrom('sessionRecords').selectAll().where('sessionUid', '=', sessionUid).executeTakeFirst(),
    /** A session's record with its account's organisation (whose settings judge it), in one statement. */
    findWithOrganization: (sessionUid: string) =>
      db
        .selectFrom('sessionRecords as r')
        .innerJoin('users as u', 'u.id', 'r.userId')
        .selectAll('r')
        .select('u.organizationId')
        .where('r.sessionUid', '=', sessionUid)
        .executeTakeFirst(),
    /** The account's live sessions, oldest first. */
    async listLive(userId: string, now: Date): Promise<SessionRecordRow[]> {
      const { rows } = await sql<SessionRecordRow>`select r.* from session_records r
        where r.user_id = ${userId} and ${live(now)} order by r.created_at, r.id`.execute(db);
      return rows;
    },
    /** Marks a session used now, at most once per `everyMs` (a compare-and-set, so also across nodes); true when written. */
    async touch(sessionUid: string, now: Date, everyMs: number): Promise<boolean> {
      const row = await db
        .updateTable('sessionRecords')
        .set({ lastActiveAt: now })
        .where('sessionUid', '=', sessionUid)
        .where('lastActiveAt', '<=', new Date(now.getTime() - everyMs))
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    /**
     * Ends a record's life (a timeout found when the session was used) by moving its end back to its
     * sign-in; true only for the request that ended it, so the end is counted and audited once.
     */
    async expire(sessionUid: string): Promise<boolean> {
      const row = await db
        .updateTable('sessionRecords')
        .set((eb) => ({ endsAt: eb.ref('authTime') }))
        .where('sessionUid', '=', sessionUid)
        .whereRef('endsAt', '>', 'authTime')
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    /** Removes a record and says whether this call did: of concurrent enforcers, one ends each session. */
    async take(sessionUid: string): Promise<boolean> {
      const row = await db.deleteFrom('sessionRecords').where('sessionUid', '=', sessionUid).returning('id').executeTakeFirst();
      return row !== undefined;
    },
    async remove(sessionUid: string): Promise<void> {
      await db.deleteFrom('sessionRecords').where('sessionUid', '=', sessionUid).execute();
    },
    /**
     * Records whose provider session is gone; the sweep timer drops them. A record that timed out
     * stays while its provider session does (the provider's own TTL, derived from the record, ends
     * it soon after), so that session is never judged by the defaults for want of its record.
     */
    async pruneDead(now: Date): Promise<number> {
      const { numAffectedRows } = await sql`delete from session_records r where not exists (select 1 from oidc_payloads p
        where p.model = 'Session' and p.uid = r.session_uid and (p.expires_at is null or p.expires_at > ${now}))`.execute(db);
      return Number(numAffectedRows ?? 0);
    },
  };
}

export type SessionRecordRepository = ReturnType<typeof createSessionRecordRepository>;
