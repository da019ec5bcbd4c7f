import type { AuditService } from '../audit/audit.service.js';
import type { FactorManagementService } from '../authn/self-service.service.js';
import type { TrustedDeviceService } from '../authn/trusted-device.service.js';
import { notFound } from '../lib/errors.js';
import type { MfaMethod } from '../policy/types.js';
import type { User } from '../store/database.js';
import { UUID, type AccountRepository } from '../store/repositories/account.repository.js';
import { reaches, type Caller, type ChangedBy, type OrgScope } from './changed-by.js';
import { trustedDeviceView } from './trusted-device.view.js';

export interface MfaPlatformDeps {
  accounts: Pick<AccountRepository, 'findById' | 'findByExternalId' | 'update'>;
  factors: FactorManagementService;
  devices: Pick<TrustedDeviceService, 'list' | 'revoke'>;
  audit: AuditService;
}

/** A user named by the IdP's id (`/users/{id}/…`) or by the platform's external id (`?externalUserId=`). */
export type UserRef = { id: string } | { externalUserId: string };

/**
 * The REST API for platforms that keep their own primary login (request and answer shapes compatible with common hosted-MFA APIs)
 * and the admin's unlock and trusted-device revocation. Users are addressed by external id.
 */
export function createMfaPlatformService(deps: MfaPlatformDeps) {
  const { accounts, factors } = deps;
  const via = (by: ChangedBy) => ({ actor: by.actor ?? 'unknown', ip: by.ip ?? undefined, requestId: by.requestId ?? undefined, via: 'platform_api' as const });

  /** The user, when the caller may see it: another organisation's user is as absent as an unknown one. */
  async function find(ref: UserRef, scope: OrgScope): Promise<User> {
    const user = 'id' in ref ? (UUID.test(ref.id) ? await accounts.findById(ref.id) : undefined) : await accounts.findByExternalId(ref.externalUserId);
    if (!user || !reaches(scope, user.organizationId)) throw notFound('no such user');
    return user;
  }

  return {
    /** A new TOTP secret, pending until its first valid code reaches POST /otp/verify. */
    async startTotp(externalUserId: string, otp: { issuer_name: string; account_name: string }, by: Caller) {
      const user = await find({ externalUserId }, by);
      const { shown } = await factors.beginEnrolment(user, 'totp', otp.account_name, otp.issuer_name, via(by));
      return { user: { external_id: user.externalId, new_otp_secret: shown.secret, qrcode_payload: shown.otpauth_uri, is_setup_complete: false } };
    },

    async verify(externalUserId: string, code: unknown, by: Caller) {
      const user = await find({ externalUserId }, by);
      const { method, enrolled } = await factors.verifyCode(user, code, via(by), { confirmPending: true });
      const message = enrolled
        ? 'OTP verified successfully; authenticator setup is complete.'
        : method === 'totp'
          ? 'OTP verified successfully.'
          : 'Backup code verified successfully.';
      return { status: 'success' as const, id: user.externalId, message };
    },

    async backupCodes(externalUserId: string, by: Caller) {
      const user = await find({ externalUserId }, by);
      return { user: { id: user.externalId, backup_codes: (await factors.issue(user, 'backup_code', via(by))).backup_codes } };
    },

    /** Clears both locks and both failure counters; an admin-locked status becomes active again. */
    async unlock(externalUserId: string, by: Caller) {
      const user = await find({ externalUserId }, by);
      const status = user.status === 'locked' ? 'active' : user.status;
      await accounts.update(user.id, { status, failedAttempts: 0, lockedUntil: null, mfaFailedAttempts: 0, mfaLockedUntil: null, mfaLockCount: 0 });
      await deps.audit.record({
        type: 'admin.user.unlocked',
        outcome: 'success',
        ...by,
        subject: user.id,
        organizationId: user.organizationId,
        data: {
          status: user.status,
          failed_attempts: user.failedAttempts,
          locked_until: user.lockedUntil?.toISOString() ?? null,
          mfa_failed_attempts: user.mfaFailedAttempts,
          mfa_locked_until: user.mfaLockedUntil?.toISOString() ?? null,
        },
      });
      return { user: { id: user.id, external_id: user.externalId, status, is_locked: false } };
    },

    async listDevices(ref: UserRef, scope: OrgScope) {
      const user = await find(ref, scope);
      return { devices: (await deps.devices.list(user.id)).map((d) => trustedDeviceView(d)) };
    },

    /** A method's entry for the user, as the user's own GET /mfa/{manage} answers it (which is set, never a secret). */
    async status(ref: UserRef, method: MfaMethod, scope: OrgScope) {
      const user = await find(ref, scope);
      return factors.status(user.id, method);
    },

    /** A user's credentials of a method that holds several (passkeys), as the user sees them. */
    async listCredentials(ref: UserRef, method: MfaMethod, collection: string, scope: OrgScope) {
      const user = await find(ref, scope);
      return { [collection]: await factors.listCredentials(user, method) };
    },

    async removeCredential(ref: UserRef, method: MfaMethod, id: string, by: Caller): Promise<void> {
      const user = await find(ref, by);
      if (!UUID.test(id)) throw notFound(`no such ${method}`);
      await factors.removeCredential(user, method, id, via(by));
    },

    async revokeDevice(ref: UserRef, deviceId: string, by: Caller): Promise<void> {
      const user = await find(ref, by);
      if (!UUID.test(deviceId) || !(await deps.devices.revoke(user.id, deviceId, by.actor ?? 'unknown'))) throw notFound('no such trusted device');
    },
  };
}

export type MfaPlatformService = ReturnType<typeof createMfaPlatformService>;
