import type { AuditService } from '../audit/audit.service.js';
import { lastUsedIsStale, type Clock } from '../lib/clock.js';
import { randomToken, sha256 } from '../lib/crypto.js';
import type { TrustedDeviceRow } from '../store/database.js';
import { UUID } from '../store/repositories/account.repository.js';
import type { TrustedDeviceRepository } from '../store/repositories/trusted-device.repository.js';

export const DEVICE_COOKIE = 'idp_device';

const DAY_MS = 86_400_000;

/**
 * "Remember this device": a random token in an httpOnly, SameSite=Strict cookie; only its hash is
 * stored, bound to one account and expiring server-side whatever the cookie says.
 */
export function createTrustedDeviceService(deps: { devices: TrustedDeviceRepository; audit: AuditService; clock: Clock }) {
  const { devices, audit, clock } = deps;
  /**
   * A device counts only as long as the policy of the client being signed into trusts devices:
   * 0 days there means never, and a device trusted longer ago than that counts for nothing there,
   * whatever lifetime it was issued with elsewhere.
   */
  const trustedFor = (device: TrustedDeviceRow, days: number) =>
    days > 0 && device.expiresAt.getTime() > clock.now() && device.createdAt.getTime() + days * DAY_MS > clock.now();
  return {
    async issue(userId: string, days: number, meta: { name?: string; ip: string; userAgent?: string }): Promise<{ token: string; device: TrustedDeviceRow }> {
      const token = randomToken(32);
      const device = await devices.insert({
        userId,
        tokenHash: sha256(token),
        name: meta.name?.trim() || (meta.userAgent ?? 'Browser').slice(0, 120),
        ip: meta.ip,
        userAgent: meta.userAgent?.slice(0, 512) ?? null,
        expiresAt: new Date(clock.now() + days * 86_400_000),
        // Trusted in a sign-in, it counted for that sign-in.
        lastUsedAt: new Date(clock.now()),
      });
      await audit.record({ type: 'authn.device.trusted', outcome: 'success', subject: userId, ip: meta.ip, data: { device_id: device.id, days } });
      return { token, device };
    },
    /** Which of the account's live devices this cookie names ("this device" in a list), whatever any policy says. */
    async identify(userId: string, token: string | undefined): Promise<TrustedDeviceRow | undefined> {
      if (!token || token.length > 128) return undefined;
      const device = await devices.findActive(userId, sha256(token));
      return device && device.expiresAt.getTime() > clock.now() ? device : undefined;
    },
    /** The device this cookie proves for this account, if a policy trusting devices for `days` still counts it. */
    async check(userId: string, token: string | undefined, days: number): Promise<TrustedDeviceRow | undefined> {
      if (days <= 0) return undefined;
      const device = await this.identify(userId, token);
      if (!device || !trustedFor(device, days)) return undefined;
      if (lastUsedIsStale(device.lastUsedAt, clock.now())) await devices.touch(device.id, new Date(clock.now()));
      return device;
    },
    /** Still trusted under a policy of `days`: not revoked and not expired by our clock (the repository only knows the database's). */
    async isActive(userId: string, id: string, days: number): Promise<boolean> {
      if (days <= 0 || !UUID.test(id)) return false;
      const device = await devices.findActiveById(userId, id);
      return device !== undefined && trustedFor(device, days);
    },
    list: (userId: string) => devices.listActive(userId),
    async revoke(userId: string, id: string, actor: string): Promise<boolean> {
      const done = await devices.revoke(userId, id);
      if (done) await audit.record({ type: 'authn.device.revoked', outcome: 'success', actor, subject: userId, data: { device_id: id } });
      return done;
    },
    /** Every device of the account: after a factor or password change. */
    async revokeAll(userId: string, actor: string, reason: string): Promise<void> {
      const n = await devices.revokeAll(userId);
      if (n) await audit.record({ type: 'authn.device.revoked', outcome: 'success', actor, subject: userId, data: { count: n, reason } });
    },
  };
}

export type TrustedDeviceService = ReturnType<typeof createTrustedDeviceService>;
