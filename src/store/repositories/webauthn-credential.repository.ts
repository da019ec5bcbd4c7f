import { sql } from 'kysely';
import type { Db } from '../db.js';
import { confirmedCredential, namedCredentials } from './named-credential.js';
import type { WebauthnCredentialsTable } from '../database.js';

/** A registered WebAuthn credential as the passkey method reads it: key, counter, authenticator facts, owner and name. */
export type WebauthnCredential = Omit<WebauthnCredentialsTable, 'signCount'> & {
  signCount: number;
  userId: string;
  /** The owner's organisation, read with the credential: a passwordless sign-in needs it next. */
  organizationId: string;
  name: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
};

export type NewWebauthnCredential = Omit<WebauthnCredential, 'id' | 'createdAt' | 'lastUsedAt' | 'organizationId'>;

const KIND = 'passkey';

export function createWebauthnCredentialRepository(db: Db) {
  const named = namedCredentials(db, KIND);
  const joined = () =>
    db
      .selectFrom('webauthnCredentials as w')
      .innerJoin('credentials as c', 'c.id', 'w.id')
      .innerJoin('users as u', 'u.id', 'c.userId')
      .select([
        'u.organizationId',
        'w.id',
        'w.credentialId',
        'w.publicKey',
        'w.signCount',
        'w.transports',
        'w.aaguid',
        'w.authenticatorName',
        'w.backupEligible',
        'w.backedUp',
        'w.userVerified',
        'w.attestationFormat',
        'c.userId',
        'c.name',
        'c.createdAt',
        'c.lastUsedAt',
      ])
      .where('c.kind', '=', KIND)
      .where('c.confirmedAt', 'is not', null);

  return {
    /**
     * Stores a verified registration; `duplicate` when the credential id is already registered to
     * anyone (this user included), decided by the unique index so that racing registrations of one
     * id cannot both land.
     */
    async register(c: NewWebauthnCredential): Promise<WebauthnCredential | 'duplicate'> {
      const stored = await db
        .transaction()
        .execute(async (trx) => {
          const row = await trx
            .insertInto('credentials')
            .values(confirmedCredential(c.userId, KIND, c.name))
            .returning(['id', 'createdAt'])
            .executeTakeFirstOrThrow();
          const key = await trx
            .insertInto('webauthnCredentials')
            .values({
              id: row.id,
              credentialId: c.credentialId,
              publicKey: c.publicKey,
              signCount: c.signCount,
              transports: c.transports,
              aaguid: c.aaguid,
              authenticatorName: c.authenticatorName,
              backupEligible: c.backupEligible,
              backedUp: c.backedUp,
              userVerified: c.userVerified,
              attestationFormat: c.attestationFormat,
            })
            .onConflict((oc) => oc.column('credentialId').doNothing())
            .returning('id')
            .executeTakeFirst();
          // Rolls the credentials row back with it.
          if (!key) throw new DuplicateCredential();
          const { organizationId } = await trx.selectFrom('users').select('organizationId').where('id', '=', c.userId).executeTakeFirstOrThrow();
          return { ...c, id: row.id, organizationId, createdAt: row.createdAt, lastUsedAt: null };
        })
        .catch((err: unknown) => {
          if (err instanceof DuplicateCredential) return 'duplicate' as const;
          throw err;
        });
      return stored;
    },
    listForUser: (userId: string): Promise<WebauthnCredential[]> => joined().where('c.userId', '=', userId).orderBy('c.createdAt').execute(),
    find: (userId: string, id: string): Promise<WebauthnCredential | undefined> =>
      joined().where('c.userId', '=', userId).where('w.id', '=', id).executeTakeFirst(),
    findByCredentialId: (credentialId: string): Promise<WebauthnCredential | undefined> =>
      joined().where('w.credentialId', '=', credentialId).executeTakeFirst(),
    /**
     * Records a verified assertion: the sign counter moves from the value the check read to the new
     * one (compare-and-set, so of two assertions checked against one stored value only one lands),
     * with the backup state the authenticator now reports and the time of use.
     */
    async recordUse(id: string, expectedCount: number, newCount: number, backedUp: boolean): Promise<boolean> {
      const { rows } = await sql<{ id: string }>`with used as (
          update webauthn_credentials set sign_count = ${newCount}, backed_up = ${backedUp}
          where id = ${id} and sign_count = ${expectedCount} returning id)
        update credentials set last_used_at = now(), updated_at = now() where id in (select id from used) returning id`.execute(db);
      return rows.length === 1;
    },
    rename: named.rename,
    remove: named.remove,
  };
}

class DuplicateCredential extends Error {}

export type WebauthnCredentialRepository = ReturnType<typeof createWebauthnCredentialRepository>;
