import type { SecretBox } from '../lib/crypto.js';
import type { User } from '../store/database.js';
import type { CredentialRepository } from '../store/repositories/credential.repository.js';

export interface RecipientDeps {
  credentials: Pick<CredentialRepository, 'listActive'>;
  box: SecretBox;
}

/** Every verified address of a kind, lower-cased (e-mail) and without duplicates. */
async function verified(deps: RecipientDeps, user: User, kind: 'email' | 'phone'): Promise<string[]> {
  const own = kind === 'email' ? (user.emailVerified ? user.email?.toLowerCase() : undefined) : user.phoneVerified ? user.phone : undefined;
  const rows = await deps.credentials.listActive(user.id, kind);
  const sealed = rows.flatMap((r) => (r.secretSealed ? [deps.box.open(r.secretSealed)] : []));
  return [...new Set([...(own ? [own] : []), ...sealed.map((a) => (kind === 'email' ? a.toLowerCase() : a))])];
}

/** The user's verified e-mail addresses: the account's own when verified, and the verified e-mail destinations. */
export const verifiedEmails = (deps: RecipientDeps, user: User) => verified(deps, user, 'email');

/** The user's verified phone numbers (E.164): the account's own when verified, and the verified phone destinations. */
export const verifiedPhones = (deps: RecipientDeps, user: User) => verified(deps, user, 'phone');
