import { hmac, randomToken } from '../lib/crypto.js';

const FORMATS = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;

export type NameIdFormat = keyof typeof FORMATS;

export class NameIdError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'NameIdError';
  }
}

/**
 * The subject's name for one SP (SAML 2.0 Core §8.3). A persistent identifier is opaque and
 * pairwise (§8.3.7): an HMAC of the SP and the user under a server key, so it never changes for
 * that pair and two SPs cannot join their users on it. A transient one is new on every response.
 */
export function nameIdFor(
  format: string,
  user: { id: string; email: string | null },
  spEntityId: string,
  persistentKey: string,
): { format: string; value: string } {
  switch (format) {
    case 'persistent':
      return { format: FORMATS.persistent, value: hmac(persistentKey, JSON.stringify([spEntityId, user.id])) };
    case 'email':
      if (!user.email) throw new NameIdError('the user has no email address for an emailAddress NameID');
      return { format: FORMATS.email, value: user.email };
    case 'transient':
      return { format: FORMATS.transient, value: `_${randomToken(24)}` };
    default:
      throw new NameIdError(`unknown NameID format ${format}`);
  }
}
