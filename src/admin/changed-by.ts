import { IdpError } from '../lib/errors.js';
import type { AuditRecord } from '../store/repositories/audit-event.repository.js';

/** Who asked for a change (an API key, a signed-in user) and from where: the audit trail's side of a request. */
export type ChangedBy = Pick<AuditRecord, 'actor' | 'ip' | 'requestId'>;

/**
 * The organisation an API caller is confined to (object-level authorisation, OWASP ASVS 5 V8.2):
 * a key bound to an organisation sees only that organisation's users, clients and settings, and
 * anything else is answered as absent. null reaches every organisation (operator keys, the CLI).
 */
export interface OrgScope {
  organizationId: string | null;
}

/** An API caller: who it is, from where, and what it may reach. */
export type Caller = ChangedBy & OrgScope;

export const reaches = (scope: OrgScope, organizationId: string): boolean => scope.organizationId === null || scope.organizationId === organizationId;

/** What belongs to no one organisation (global settings, new organisations) is for keys that reach them all. */
export function assertReachesAll(scope: OrgScope, what: string): void {
  if (scope.organizationId !== null) throw new IdpError('insufficient_scope', `an API key bound to an organization cannot ${what}`);
}
