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

export const settingsPatchSchema = z
  .object({
    mfa: mfaSettingsSchema.partial().optional(),
    lockout: lockoutSettingsSchema.partial().optional(),
  })
  .strict();

/** A client's own `mfa_policy`: any subset of the mfa block, overriding the organisation's. */
export const clientMfaPolicySchema = mfaSettingsSchema.partial();

export type MfaSettings = z.infer<typeof mfaSettingsSchema>;
export type LockoutSettings = z.infer<typeof lockoutSettingsSchema>;
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
export interface EffectiveSettings {
  mfa: MfaSettings;
  lockout: LockoutSettings;
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
  };
}

/** Most specific wins, block by block and key by key. */
export function mergeSettings(base: EffectiveSettings, ...layers: (SettingsPatch | undefined)[]): EffectiveSettings {
  return layers.reduce<EffectiveSettings>(
    (acc, layer) => ({
      mfa: { ...acc.mfa, ...layer?.mfa },
      lockout: { ...acc.lockout, ...layer?.lockout },
    }),
    base,
  );
}

/** Stored layers are re-validated on read: a row written by an older version never breaks a login. */
export function parseStoredLayer(raw: unknown): SettingsPatch {
  const parsed = settingsPatchSchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : {};
}
