import type { Db } from '../db.js';
import type { SamlSessionParticipantRow } from '../database.js';

export type SamlSessionParticipant = SamlSessionParticipantRow;
export type NewSamlSessionParticipant = Omit<SamlSessionParticipantRow, 'createdAt'>;

/** The service providers each SSO session has signed into (for single logout). */
export function createSamlSessionRepository(db: Db) {
  return {
    /**
     * Records an SP's part in a session. A session signs into an SP once: a later response to the
     * same SP keeps the first SessionIndex (the one the SP already holds) and takes the newer NameID
     * (a transient one changes) and expiry. Returns the row as stored.
     */
    async record(p: NewSamlSessionParticipant): Promise<SamlSessionParticipant> {
      return db
        .insertInto('samlSessionParticipants')
        .values(p)
        .onConflict((oc) =>
          oc.columns(['sessionKey', 'spId']).doUpdateSet((eb) => ({
            nameId: eb.ref('excluded.nameId'),
            nameIdFormat: eb.ref('excluded.nameIdFormat'),
            expiresAt: eb.ref('excluded.expiresAt'),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
    },
    /** The session an SP's SessionIndex names, if it is still live. */
    async findByIndex(spId: string, sessionIndex: string): Promise<SamlSessionParticipant | undefined> {
      return db
        .selectFrom('samlSessionParticipants')
        .selectAll()
        .where('spId', '=', spId)
        .where('sessionIndex', '=', sessionIndex)
        .where('expiresAt', '>', new Date())
        .executeTakeFirst();
    },
    /** Every SP of a session (live or not: a logout still tells an SP whose assertion outlived nothing). */
    async listBySession(sessionKey: string): Promise<SamlSessionParticipant[]> {
      return db.selectFrom('samlSessionParticipants').selectAll().where('sessionKey', '=', sessionKey).orderBy('createdAt').execute();
    },
    /** Forgets a session's participants; returns those removed, so that of concurrent logouts only one tells each SP. */
    async takeBySession(sessionKey: string): Promise<SamlSessionParticipant[]> {
      return db.deleteFrom('samlSessionParticipants').where('sessionKey', '=', sessionKey).returningAll().execute();
    },
  };
}

export type SamlSessionRepository = ReturnType<typeof createSamlSessionRepository>;
