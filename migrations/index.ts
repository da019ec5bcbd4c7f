import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_mfa.js';
import * as m0003 from './0003_authn_state_amr.js';
import * as m0004 from './0004_session_account_index.js';
import * as m0005 from './0005_lockout_password_checks.js';

/** Every migration, in order. Listed statically so the same set runs from tsx, compiled code and tests. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_mfa': m0002,
  '0003_authn_state_amr': m0003,
  '0004_session_account_index': m0004,
  '0005_lockout_password_checks': m0005,
};
