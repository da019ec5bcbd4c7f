import ipaddr from 'ipaddr.js';
import { z } from '../lib/zod.js';
import { MFA_METHODS, type MfaMethod } from './types.js';

/** The policies that name one method: the method each one requires. */
export const POLICY_METHOD = { otp: 'totp', passkey: 'passkey' } as const satisfies Record<string, MfaMethod>;

/** The `mfa` block of the settings API (snake_case, as everywhere in the API). */
export const mfaSettingsSchema = z
  .object({
    policy: z.enum(['disabled', 'any', 'otp', 'passkey']),
    allowed_methods: z.array(z.enum(MFA_METHODS)).min(1).max(MFA_METHODS.length),
    enforce_enrollment: z.boolean(),
    grace_period_seconds: z.number().int().min(0).max(31_536_000),
    required_for_roles: z.array(z.string().regex(/^[a-z0-9_.:-]{1,64}$/)).max(100),
    reauth_interval_minutes: z.number().int().min(0).max(525_600),
    // NIST SP 800-63B: a remembered device is at most an AAL1-long (30 day) authenticator.
    trusted_device_duration_days: z.number().int().min(0).max(30),
  })
  .strict();

export const lockoutSettingsSchema = z
  .object({
    max_failures: z.number().int().min(1).max(100),
    lock_minutes: z.array(z.number().int().min(1).max(10_080)).min(1).max(10),
    mfa_max_failures: z.number().int().min(1).max(100),
  })
  .strict();

// Four-part dotted IPv4 only: ipaddr.js would also read "10.1/8" as 10.0.0.1/8.
const cidr = z
  .string()
  .max(64)
  .refine((c) => ipaddr.IPv4.isValidCIDRFourPartDecimal(c) || ipaddr.IPv6.isValidCIDR(c), 'must be an IPv4 or IPv6 CIDR (address/prefix)');

/** The `risk` block: the thresholds that turn the risk score into a recommendation, and the denied networks. */
export const riskSettingsSchema = z
  .object({
    challenge_threshold: z.number().min(0).max(1),
    deny_threshold: z.number().min(0).max(1),
    deny_list: z.array(cidr).max(1000),
  })
  .strict();

export const settingsPatchSchema = z
  .object({
    mfa: mfaSettingsSchema.partial().optional(),
    lockout: lockoutSettingsSchema.partial().optional(),
    risk: riskSettingsSchema.partial().optional(),
  })
  .strict();

/** A client's own `mfa_policy`: any subset of the mfa block, overriding the organisation's. */
export const clientMfaPolicySchema = mfaSettingsSchema.partial();

export type MfaSettings = z.infer<typeof mfaSettingsSchema>;
export type LockoutSettings = z.infer<typeof lockoutSettingsSchema>;
export type RiskSettings = z.infer<typeof riskSettingsSchema>;
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
export interface EffectiveSettings {
  mfa: MfaSettings;
  lockout: LockoutSettings;
  risk: RiskSettings;
}

/**
 * The defaults, allowing the methods this server provides among those allowed by default, so that
 * what GET shows can be PATCHed back as it is.
 */
export function defaultSettings(
  lockout: { maxFailures: number; lockMinutes: number[]; mfaMaxFailures: number },
  registered: readonly MfaMethod[],
): EffectiveSettings {
  // Email codes and security questions are weaker (NIST SP 800-63B rev 4, ASVS 5): only when an operator adds them.
  const byDefault: readonly MfaMethod[] = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'prompt'];
  return {
    mfa: {
      policy: 'any',
      allowed_methods: byDefault.filter((m) => registered.includes(m)),
      enforce_enrollment: false,
      grace_period_seconds: 0,
      required_for_roles: [],
      reauth_interval_minutes: 0,
      trusted_device_duration_days: 0,
    },
    lockout: { max_failures: lockout.maxFailures, lock_minutes: lockout.lockMinutes, mfa_max_failures: lockout.mfaMaxFailures },
    risk: { challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [] },
  };
}

/** Most specific wins, block by block and key by key. */
export function mergeSettings(base: EffectiveSettings, ...layers: (SettingsPatch | undefined)[]): EffectiveSettings {
  return layers.reduce<EffectiveSettings>(
    (acc, layer) => ({
      mfa: { ...acc.mfa, ...layer?.mfa },
      lockout: { ...acc.lockout, ...layer?.lockout },
      risk: { ...acc.risk, ...layer?.risk },
    }),
    base,
  );
}

/** Stored layers are re-validated on read: a row written by an older version never breaks a login. */
export function parseStoredLayer(raw: unknown): SettingsPatch {
  const parsed = settingsPatchSchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : {};
}
