import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_mfa.js';
import * as m0003 from './0003_authn_state_amr.js';
import * as m0004 from './0004_session_account_index.js';
import * as m0005 from './0005_audit_client_id.js';
import * as m0006 from './0006_login_names.js';
import * as m0007 from './0007_hashed_oidc_ids.js';
import * as m0008 from './0008_drop_credentials_data.js';
import * as m0009 from './0009_password_checks_pending.js';
import * as m0010 from './0010_refresh_token_account_index.js';
import * as m0011 from './0011_webauthn_credentials.js';
import * as m0012 from './0012_saml_keys.js';
import * as m0013 from './0013_saml_service_providers.js';
import * as m0014 from './0014_saml_sessions.js';
import * as m0015 from './0015_api_key_expiry.js';
import * as m0016 from './0016_audit_chain.js';
import * as m0017 from './0017_policy_rules.js';
import * as m0018 from './0018_risk_history.js';
import * as m0019 from './0019_session_records.js';
import * as m0020 from './0020_temporary_passwords.js';
import * as m0021 from './0021_break_glass.js';
import * as m0022 from './0022_otp_destinations.js';
import * as m0023 from './0023_delivery.js';
import * as m0024 from './0024_security_questions.js';
import * as m0025 from './0025_prompt.js';
import * as m0026 from './0026_webhooks.js';
import * as m0027 from './0027_recovery.js';
import * as m0028 from './0028_user_profile.js';
import * as m0029 from './0029_analytics.js';

/** Every migration, in order. Listed statically so the same set runs from tsx, compiled code and tests. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_mfa': m0002,
  '0003_authn_state_amr': m0003,
  '0004_session_account_index': m0004,
  '0005_audit_client_id': m0005,
  '0006_login_names': m0006,
  '0007_hashed_oidc_ids': m0007,
  '0008_drop_credentials_data': m0008,
  '0009_password_checks_pending': m0009,
  '0010_refresh_token_account_index': m0010,
  '0011_webauthn_credentials': m0011,
  '0012_saml_keys': m0012,
  '0013_saml_service_providers': m0013,
  '0014_saml_sessions': m0014,
  '0015_api_key_expiry': m0015,
  '0016_audit_chain': m0016,
  '0017_policy_rules': m0017,
  '0018_risk_history': m0018,
  '0019_session_records': m0019,
  '0020_temporary_passwords': m0020,
  '0021_break_glass': m0021,
  '0022_otp_destinations': m0022,
  '0023_delivery': m0023,
  '0024_security_questions': m0024,
  '0025_prompt': m0025,
  '0026_webhooks': m0026,
  '0027_recovery': m0027,
  '0028_user_profile': m0028,
  '0029_analytics': m0029,
};
